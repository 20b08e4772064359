// loss.h: training losses: cross-entropy over class logits (ignore_index, label smoothing) and the
// mean squared error.
#pragma once
#include "nn/module.h"
#include "tensor/ops/nn_ops.h"

namespace nn {

enum class Reduction { Mean, Sum, None };

// logits [..., C] and int64 targets [...] (the logits' shape without its last dim); the mean over
// targets not equal to opt.ignore_index, with label smoothing opt.label_smoothing (as
// torch.nn.functional.cross_entropy with reduction "mean"). Returns a 0-d Variable.
Variable cross_entropy(const Variable& logits, const Tensor& target, const tensor::CrossEntropyOptions& opt = {});

// (input - target)^2 reduced by `r`; input and target must have the same shape.
Variable mse_loss(const Variable& input, const Variable& target, Reduction r = Reduction::Mean);

}  // namespace nn
