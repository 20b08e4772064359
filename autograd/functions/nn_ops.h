// nn_ops.h (autograd): differentiable fused neural-network ops: conv2d, RMSNorm, LayerNorm and
// cross-entropy. Each keeps a composite version built from simpler differentiable ops as its
// test oracle (see tests/autograd/).
#pragma once
#include "autograd/variable.h"
#include "tensor/ops/nn_ops.h"

namespace autograd {

// bias may be undefined.
Variable conv2d(const Variable& x, const Variable& w, const Variable& bias, const tensor::Conv2dParams& p);
// weight may be undefined (no learnable scale).
Variable rms_norm(const Variable& x, const Variable& weight, double eps);
Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias, double eps);
// logits [N, C], target int64 [N]; mean over non-ignored targets.
Variable cross_entropy(const Variable& logits, const Tensor& target, const tensor::CrossEntropyOptions& opt = {});

}  // namespace autograd
