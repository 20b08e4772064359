// cublas_handle.cu: creates the backend's cuBLAS handle once, on the default stream.
#include "tensor/cuda/cublas_handle.h"
#include "tensor/cuda/cuda_check.h"

namespace tensor::cuda {

cublasHandle_t cublas_handle() {
  static cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    PM_CUBLAS_CHECK(cublasCreate(&h));
    PM_CUBLAS_CHECK(cublasSetStream(h, nullptr));  // stream 0, where every <<<>>> launch goes
    PM_CUBLAS_CHECK(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST));
    return h;
  }();
  return handle;
}

}  // namespace tensor::cuda
