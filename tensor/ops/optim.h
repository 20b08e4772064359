// optim.h: fused optimizer updates. One pass over a parameter and its state replaces the dozen
// element-wise ops (and kernel launches) an update takes written with tensor ops; the arithmetic
// is PyTorch's single-tensor AdamW term by term, so trajectories agree with torch.optim to rounding.
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/tensor.h"

namespace tensor {

// One AdamW step's hyper-parameters; `step` is the parameter's own step count after this step (>= 1).
struct AdamWStep {
  double lr = 1e-3, weight_decay = 0.0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t step = 1;
};

// One step's constants in the parameter's type T (bias corrections folded in), computed once on the
// host for the CPU loop, the CUDA kernel and the op-by-op path alike:
//   p = p * decay + (m * neg_step) / (sqrt(v) / sqrt_bc2 + eps), m = m * b1 + one_b1 * g, ...
template <typename T> struct AdamWScalars {
  T decay, b1, one_b1, b2, one_b2, sqrt_bc2, eps, neg_step;
};
template <typename T> AdamWScalars<T> adamw_scalars(const AdamWStep& s) {
  const double bc1 = 1.0 - std::pow(s.beta1, static_cast<double>(s.step));
  const double bc2 = 1.0 - std::pow(s.beta2, static_cast<double>(s.step));
  return {static_cast<T>(1.0 - s.lr * s.weight_decay), static_cast<T>(s.beta1), static_cast<T>(1.0 - s.beta1),
          static_cast<T>(s.beta2),                     static_cast<T>(1.0 - s.beta2), static_cast<T>(std::sqrt(bc2)),
          static_cast<T>(s.eps),                       static_cast<T>(-(s.lr / bc1))};
}

// In place, for every element (bias corrections bc1 = 1 - beta1^step, bc2 = 1 - beta2^step):
//   param      *= 1 - lr * weight_decay                              (decoupled decay)
//   exp_avg     = exp_avg * beta1 + (1 - beta1) * grad
//   exp_avg_sq  = exp_avg_sq * beta2 + (grad * (1 - beta2)) * grad
//   param      += (exp_avg * -(lr / bc1)) / (sqrt(exp_avg_sq) / sqrt(bc2) + eps)
// All four tensors: same shape, dtype (float32 or float64) and device. Contiguous tensors take one
// fused kernel; any other layout runs the same formula as separate ops.
void adamw_update_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                   const AdamWStep& s);

}  // namespace tensor
