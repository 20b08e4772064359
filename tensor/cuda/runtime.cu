// runtime.cu: error checking, device discovery, the cuBLAS handle and the CUDA allocator's
// installation into the tensor layer.
#include <cstdlib>
#include <mutex>

#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/runtime.h"
#include "tensor/storage.h"

namespace tensor::cuda {

void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": CUDA error '" +
                           cudaGetErrorString(err) + "' in " + call);
}

void throw_cublas_error(cublasStatus_t st, const char* call, const char* file, int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": cuBLAS error " +
                           cublasGetStatusString(st) + " in " + call);
}

bool sync_mode() {
  static const bool on = [] {
    const char* v = std::getenv("PM_CUDA_SYNC");
    return v && std::string(v) != "0";
  }();
  return on;
}

void check_launch(const char* op, const char* file, int line) {
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess && sync_mode()) err = cudaDeviceSynchronize();
  if (err != cudaSuccess)
    throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": CUDA error '" +
                             cudaGetErrorString(err) + "' in kernel of op " + op);
}

bool built_with_cuda() { return true; }

int device_count() {
  static const int n = [] {
    int c = 0;
    if (cudaGetDeviceCount(&c) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky "no device" error
      return 0;
    }
    return c;
  }();
  return n;
}

bool available() { return device_count() > 0; }

void synchronize() { PM_CUDA_CHECK(cudaDeviceSynchronize()); }

namespace {
bool g_allow_tf32 = false;
}
void set_allow_tf32(bool on) { g_allow_tf32 = on; }
bool allow_tf32() { return g_allow_tf32; }

}  // namespace tensor::cuda
