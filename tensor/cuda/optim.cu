// optim.cu: the fused AdamW update (tensor/ops/optim.h): one grid-stride pass reading param, grad
// and both moments once and writing param and the moments once, instead of a dozen launches.
#include "tensor/cuda/optim.h"

#include "tensor/cuda/launch.cuh"

namespace tensor::cuda {
namespace {

template <typename T>
__global__ void adamw_kernel(int64_t n, AdamWScalars<T> c, T* __restrict__ p, const T* __restrict__ g,
                             T* __restrict__ m, T* __restrict__ v) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const T gi = g[i];
    const T mi = m[i] * c.b1 + c.one_b1 * gi;
    const T vi = v[i] * c.b2 + (gi * c.one_b2) * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * c.decay + (mi * c.neg_step) / (sqrt(vi) / c.sqrt_bc2 + c.eps);
  }
}

}  // namespace

void adamw_update_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                   const AdamWStep& s) {
  const int64_t n = param.numel();
  dispatch_float(param.dtype(), "adamw_update_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const AdamWScalars<T> c = adamw_scalars<T>(s);
    adamw_kernel<T><<<blocks_for(n), kThreads>>>(n, c, param.data<T>(), grad.data<T>(), exp_avg.data<T>(),
                                                  exp_avg_sq.data<T>());
    PM_CUDA_LAUNCH_CHECK("adamw_update_");
  });
}

}  // namespace tensor::cuda
