// norms.h: the CUDA kernels behind tensor::rms_norm, layer_norm and their backward
// (tensor/ops/norms.cpp): one fused kernel per direction, a row per warp (D <= 1024) or per
// block, sums in the tensor's own precision (float for float32, double for float64); weight and
// bias gradients as per-chunk column partials then a second kernel adding the chunks in order
// (deterministic, no atomics). The op file checks arguments and passes contiguous tensors
// (weight / bias may be undefined). Declared in every build, defined only in CUDA builds.
#pragma once
#include "tensor/ops/nn_ops.h"
#include "tensor/tensor.h"

namespace tensor::cuda {

NormForward rms_norm(const Tensor& x, const Tensor& weight, double eps);
NormGrads rms_norm_backward(const Tensor& grad, const Tensor& x, const Tensor& weight, const Tensor& rstd);
NormForward layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
NormGrads layer_norm_backward(const Tensor& grad, const Tensor& x, const Tensor& weight, const Tensor& mean,
                              const Tensor& rstd, bool has_bias);

}  // namespace tensor::cuda
