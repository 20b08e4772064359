// kernel_utils.cu: the device properties that kernel_utils.cuh declares, read once per process.
#include "tensor/cuda/kernel_utils.cuh"

namespace tensor::cuda {

int num_sms() {
  static const int n = [] {
    int dev = 0, v = 0;
    PM_CUDA_CHECK(cudaGetDevice(&dev));
    PM_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev));
    return v;
  }();
  return n;
}

size_t max_shared_optin() {
  static const size_t n = [] {
    int dev = 0, v = 0;
    PM_CUDA_CHECK(cudaGetDevice(&dev));
    PM_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    return static_cast<size_t>(v);
  }();
  return n;
}

}  // namespace tensor::cuda
