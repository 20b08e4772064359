// gpu_timer.h: GPU timing for the bench sections (CUDA builds only): seconds of the fastest of N runs
// of a callable, each timed with CUDA events on the default stream, after untimed warm-up runs.
#pragma once
#if defined(PM_HAVE_CUDA)
#include <cuda_runtime.h>

#include <algorithm>

#include "section.h"
#include "tensor/cuda/cuda_check.h"

namespace bench {

template <typename F> double best_gpu_seconds(int warmup, int repeats, F&& f) {
  cudaEvent_t start, stop;
  PM_CUDA_CHECK(cudaEventCreate(&start));
  PM_CUDA_CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < warmup; ++i) f();
  PM_CUDA_CHECK(cudaDeviceSynchronize());
  float best_ms = 1e30f;
  for (int i = 0; i < std::max(1, repeats); ++i) {
    PM_CUDA_CHECK(cudaEventRecord(start, 0));
    f();
    PM_CUDA_CHECK(cudaEventRecord(stop, 0));
    PM_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    PM_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    best_ms = std::min(best_ms, ms);
  }
  PM_CUDA_CHECK(cudaEventDestroy(start));
  PM_CUDA_CHECK(cudaEventDestroy(stop));
  return static_cast<double>(best_ms) * 1e-3;
}

// With the section options' warm-up and repeat counts.
template <typename F> double best_gpu_seconds(const Options& opt, F&& f) {
  return best_gpu_seconds(opt.warmup, opt.repeats, f);
}

}  // namespace bench
#endif
