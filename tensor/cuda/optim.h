// optim.h: the CUDA kernel behind tensor::adamw_update_ (tensor/ops/optim.cpp): one thread per
// element, over contiguous tensors the op file has checked. Declared in every build, defined only
// in CUDA builds.
#pragma once
#include "tensor/ops/optim.h"
#include "tensor/tensor.h"

namespace tensor::cuda {

void adamw_update_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                   const AdamWStep& s);

}  // namespace tensor::cuda
