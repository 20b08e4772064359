// linalg.cu: the CUDA backend's GEMM (see linalg.h). cuBLAS is column-major; a row-major [m x n]
// matrix with row stride ld is, to cuBLAS, its transpose: a column-major [n x m] matrix with
// leading dimension ld. So the row-major C = op(A) op(B) is computed as the column-major
// C^T = op(B)^T op(A)^T: the operands swap places and m, n swap, the transpose flags stay with
// their operands, and no data moves.
#include <climits>
#include <string>
#include <type_traits>

#include "tensor/cuda/cublas_handle.h"
#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/launch.cuh"
#include "tensor/cuda/linalg.h"
#include "tensor/cuda/runtime.h"

namespace tensor::cuda {
namespace {

// Batches are handed to cuBLAS in pieces of at most this many products.
constexpr int64_t kMaxBatchPerCall = 65535;

int to_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw std::invalid_argument(std::string("matmul (cuda): ") + what + " = " + std::to_string(v) +
                                " does not fit cuBLAS's 32-bit sizes");
  return static_cast<int>(v);
}

// The empty product (k == 0): C_i = beta * C_i, exact zeros when beta == 0 (never 0 * NaN).
template <typename T>
__global__ void scale_kernel(T* c, int64_t m, int64_t n, int64_t ldc, int64_t stride_c, int64_t total, T beta) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t col = i % n, row = (i / n) % m, bi = i / (m * n);
    T* p = c + bi * stride_c + row * ldc + col;
    *p = beta == T(0) ? T(0) : beta * *p;
  }
}

cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                         const float* alpha, const float* a, int lda, long long sa, const float* b, int ldb,
                         long long sb, const float* beta, float* c, int ldc, long long sc, int batch) {
  if (batch == 1) return cublasSgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}

cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                         const double* alpha, const double* a, int lda, long long sa, const double* b, int ldb,
                         long long sb, const double* beta, double* c, int ldc, long long sc, int batch) {
  if (batch == 1) return cublasDgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c, int64_t ldc, int64_t stride_c,
          int64_t batch) {
  if (m <= 0 || n <= 0 || batch <= 0) return;
  if (k <= 0) {
    const int64_t total = batch * m * n;
    scale_kernel<T><<<blocks_for(total), kThreads>>>(c, m, n, ldc, stride_c, total, beta);
    PM_CUDA_LAUNCH_CHECK("matmul");
    return;
  }
  const int im = to_int(m, "m"), in = to_int(n, "n"), ik = to_int(k, "k");
  const int ilda = to_int(lda, "lda"), ildb = to_int(ldb, "ldb"), ildc = to_int(ldc, "ldc");
  cublasHandle_t h = cublas_handle();
  const bool tf32 = std::is_same_v<T, float> && allow_tf32();
  PM_CUBLAS_CHECK(cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  for (int64_t done = 0; done < batch; done += kMaxBatchPerCall) {
    const int count = static_cast<int>(batch - done < kMaxBatchPerCall ? batch - done : kMaxBatchPerCall);
    // column-major C^T [n x m] = op(B)^T [n x k] @ op(A)^T [k x m]
    PM_CUBLAS_CHECK(gemm_call(h, op_b, op_a, in, im, ik, &alpha, b + done * stride_b, ildb, stride_b,
                              a + done * stride_a, ilda, stride_a, &beta, c + done * stride_c, ildc, stride_c, count));
  }
  if (sync_mode()) PM_CUDA_CHECK(cudaDeviceSynchronize());
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t, const float*,
                          int64_t, int64_t, float, float*, int64_t, int64_t, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                           const double*, int64_t, int64_t, double, double*, int64_t, int64_t, int64_t);

}  // namespace tensor::cuda
