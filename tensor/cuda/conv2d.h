// conv2d.h: the CUDA kernels behind tensor::conv2d and conv2d_backward (tensor/ops/conv2d.cpp):
// im2col + cuBLAS GEMMs, col2im as a gather (each input element sums its own taps in a fixed
// order: deterministic, no atomics), dbias by a block reduction. Arguments are checked by the op
// file. Declared in every build, defined only in CUDA builds: call inside PM_ON_CUDA.
#pragma once
#include "tensor/ops/nn_ops.h"
#include "tensor/tensor.h"

namespace tensor::cuda {

// x [B, C, H, W] (any strides), w [O, C, kh, kw] contiguous, bias [O] (any stride) or undefined.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p);
// grad [B, O, Ho, Wo] and x any strides, w contiguous; dx / dw only when asked for.
Conv2dGrads conv2d_backward(const Tensor& grad, const Tensor& x, const Tensor& w, bool has_bias, const Conv2dParams& p,
                            bool need_dx, bool need_dw);

}  // namespace tensor::cuda
