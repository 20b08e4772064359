// random.cu: Philox draws on the GPU, one element per counter, with the CPU's formulas
// (tensor/ops/creation.cpp) evaluated with the same roundings: philox.h's functions, and
// fused_mul_add where the CPU uses it.
#include "tensor/cuda/random.h"

#include <algorithm>

#include "tensor/cuda/kernel_utils.cuh"
#include "tensor/philox.h"

namespace tensor::cuda {
namespace {

enum class Draw { Uniform, Normal };

// out[i] = a * draw(key, base + i) + b, in double, then converted to T.
template <typename T, Draw D> __global__ void draw_kernel(int64_t n, T* out, uint64_t key, uint64_t base, double a, double b) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const uint64_t c = base + static_cast<uint64_t>(i);
    double u;
    if constexpr (D == Draw::Normal)
      u = philox::normal(key, c);
    else if constexpr (sizeof(T) == 4)
      u = philox::uniform_f32(key, c);
    else
      u = philox::uniform_f64(key, c);
    out[i] = static_cast<T>(philox::fused_mul_add(a, u, b));
  }
}

__global__ void randint_kernel(int64_t n, int64_t* out, uint64_t key, uint64_t base, int64_t low, int64_t high) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const double span = static_cast<double>(high - low);
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const double u = philox::uniform_f64(key, base + static_cast<uint64_t>(i));
    const int64_t v = low + static_cast<int64_t>(u * span);
    out[i] = v < high - 1 ? v : high - 1;
  }
}

template <Draw D> void launch_draw(const char* op, const Tensor& out, uint64_t key, uint64_t base, double a, double b) {
  const int64_t n = out.numel();
  dispatch_float(out.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (n == 0) return;
    draw_kernel<T, D><<<blocks_for(n), kThreads>>>(n, out.data<T>(), key, base, a, b);
    PM_CUDA_LAUNCH_CHECK(op);
  });
}

}  // namespace

void fill_uniform(const Tensor& out, uint64_t key, uint64_t base, double low, double high) {
  launch_draw<Draw::Uniform>("rand", out, key, base, high - low, low);
}

void fill_normal(const Tensor& out, uint64_t key, uint64_t base, double mean, double std) {
  launch_draw<Draw::Normal>("randn", out, key, base, std, mean);
}

void fill_randint(const Tensor& out, uint64_t key, uint64_t base, int64_t low, int64_t high) {
  const int64_t n = out.numel();
  if (n == 0) return;
  randint_kernel<<<blocks_for(n), kThreads>>>(n, out.data<int64_t>(), key, base, low, high);
  PM_CUDA_LAUNCH_CHECK("randint");
}

}  // namespace tensor::cuda
