// gemm.h: the CPU matrix-multiply kernels behind tensor::matmul. Row-major, with transposes as
// flags: C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C, where op(A) is A or A^T and lda,
// ldb, ldc are row strides in elements. `gemm` uses CBLAS (OpenBLAS) when the build found it and
// use_blas is on; `gemm_fallback` is the readable cache-blocked kernel used otherwise.
#pragma once
#include <cstdint>

namespace tensor::cpu {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc);

template <typename T>
void gemm_fallback(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                   const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

bool blas_available();   // compiled with CBLAS
bool blas_enabled();     // available and not switched off
void set_blas_enabled(bool on);  // for benchmarks and tests of the fallback

}  // namespace tensor::cpu
