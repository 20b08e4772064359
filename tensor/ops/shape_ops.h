// shape_ops.h: ops that rearrange elements between tensors: cat, split/chunk, flip.
// (Pure views such as permute, narrow and expand are Tensor methods in tensor/tensor.h.)
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace tensor {

Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
// Views of consecutive pieces of `size` along dim (the last may be shorter).
std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);
// Reverses the order along each of `dims` (a copy, as torch.flip).
Tensor flip(const Tensor& x, const std::vector<int64_t>& dims);

}  // namespace tensor
