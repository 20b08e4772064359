// cuda_check.h: checked CUDA and cuBLAS calls. A failing call throws std::runtime_error naming the
// file, the line and the call. With PM_CUDA_SYNC=1 in the environment every kernel launch is
// followed by a device synchronisation, so an asynchronous fault surfaces at the op that launched it.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace tensor::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t st, const char* call, const char* file, int line);
// After a kernel launch: checks the launch error, and synchronises first when PM_CUDA_SYNC=1.
void check_launch(const char* op, const char* file, int line);
bool sync_mode();

}  // namespace tensor::cuda

#define PM_CUDA_CHECK(call)                                                          \
  do {                                                                               \
    cudaError_t pm_err_ = (call);                                                    \
    if (pm_err_ != cudaSuccess) ::tensor::cuda::throw_cuda_error(pm_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define PM_CUBLAS_CHECK(call)                                                        \
  do {                                                                               \
    cublasStatus_t pm_st_ = (call);                                                  \
    if (pm_st_ != CUBLAS_STATUS_SUCCESS) ::tensor::cuda::throw_cublas_error(pm_st_, #call, __FILE__, __LINE__); \
  } while (0)

// Put right after a <<<...>>> launch; `op` names the tensor op for the error message.
#define PM_CUDA_LAUNCH_CHECK(op) ::tensor::cuda::check_launch(op, __FILE__, __LINE__)
