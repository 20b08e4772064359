// cross_entropy.h: the CUDA kernels behind tensor::cross_entropy and cross_entropy_backward
// (tensor/ops/cross_entropy.cpp). One fused pass over each row of logits computes the running
// max and sum of exponentials (online softmax), the sum of logits for label smoothing and the
// target logit; the mean over valid rows is a second, one-block kernel adding the row losses in
// order, divided by the valid-row count that the target check left on the device. The forward can
// leave each row's log-sum-exp behind; given it, the backward is one streaming pass (read a logit,
// write its gradient). Without it, the backward
// recomputes each row's log-sum-exp and writes (softmax - q) * g / n_valid; its grid keeps few
// enough rows in flight that the second read of a row comes from L2, and that second read and the
// gradient's writes carry the streaming (evict-first) hint so they do not push other rows out.
// Targets are checked by the op file (tensor/cuda/index.h: start_index_check before these,
// finish_index_check after). Declared in every build, defined only in CUDA builds.
#pragma once
#include "tensor/ops/nn_ops.h"
#include "tensor/tensor.h"

namespace tensor::cuda {

// logits [N, C] contiguous, target [N] int64 (any stride), n_valid a 0-d int64 device tensor (rows
// whose target is not ignore_index). Out-of-range targets read no memory (their rows give NaN), so
// the op may queue these before it waits for the target check.
// With row_lse, each row's log-sum-exp goes there too ([N], logits' dtype, 0 for ignored rows).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& n_valid, const CrossEntropyOptions& opt,
                     Tensor* row_lse = nullptr);
// grad: a one-element device tensor of logits' dtype. row_lse (contiguous [N], logits' dtype) when
// defined: the backward reads each row once (a pure streaming pass) instead of recomputing it.
Tensor cross_entropy_backward(const Tensor& grad, const Tensor& logits, const Tensor& target, const Tensor& n_valid,
                              const CrossEntropyOptions& opt, const Tensor& row_lse = Tensor());

}  // namespace tensor::cuda
