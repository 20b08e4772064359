// optim.h: fused optimizer updates. One pass over a parameter and its state replaces the dozen
// element-wise ops (and kernel launches) an update takes written with tensor ops; the arithmetic
// is PyTorch's single-tensor AdamW term by term, so trajectories agree with torch.optim to rounding.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace tensor {

// One AdamW step's hyper-parameters; `step` is the parameter's own step count after this step (>= 1).
struct AdamWStep {
  double lr = 1e-3, weight_decay = 0.0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t step = 1;
};

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
