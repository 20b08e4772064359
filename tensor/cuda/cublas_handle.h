// cublas_handle.h: the CUDA backend's one cuBLAS handle. Created on first use and bound to the
// default stream, the stream every kernel of the backend runs on, so GEMMs and kernels stay in
// order without extra synchronisation. Never destroyed (the process's exit releases it), so
// tensors freed during static destruction cannot outlive it. Not for concurrent use from several
// host threads (the backend runs one thread's ops at a time). CUDA builds only.
#pragma once
#include <cublas_v2.h>

namespace tensor::cuda {

cublasHandle_t cublas_handle();

}  // namespace tensor::cuda
