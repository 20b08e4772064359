// linalg.h: the CUDA backend's matrix product, a row-major strided-batched GEMM through cuBLAS.
// tensor::matmul/mm/bmm (tensor/ops/linalg.cpp) and conv2d (conv2d.cu) call it. Declared in
// every build, defined only in CUDA builds: call it inside PM_ON_CUDA (tensor/cuda/dispatch.h).
#pragma once
#include <cstdint>

namespace tensor::cuda {

// For i in [0, batch): C_i = alpha * op(A_i) @ op(B_i) + beta * C_i, with X_i = x + i * stride_x.
// The argument convention is cpu::gemm's (row-major; op(A) is [m x k], A^T when trans_a; lda,
// ldb, ldc are row strides), plus batch strides in elements; stride_a or stride_b may be 0 (one
// matrix shared by the whole batch), stride_c must keep the C_i apart. float32 products use TF32
// tensor cores only when tensor::cuda::allow_tf32() is on. Runs on the backend's stream.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c, int64_t ldc, int64_t stride_c,
          int64_t batch);

}  // namespace tensor::cuda
