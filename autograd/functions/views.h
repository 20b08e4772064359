// views.h (autograd): differentiable views and rearrangements. Forward results share storage with
// their input where the tensor op does; backward maps the gradient back to the input's shape.
#pragma once
#include <vector>

#include "autograd/variable.h"

namespace autograd {

Variable view(const Variable& x, const tensor::Shape& shape);
Variable reshape(const Variable& x, const tensor::Shape& shape);
Variable permute(const Variable& x, const std::vector<int64_t>& dims);
Variable transpose(const Variable& x, int64_t d0, int64_t d1);
Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length);
Variable slice(const Variable& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Variable select(const Variable& x, int64_t dim, int64_t index);
Variable expand(const Variable& x, const tensor::Shape& shape);
Variable squeeze(const Variable& x, int64_t dim);
Variable unsqueeze(const Variable& x, int64_t dim);
Variable flatten(const Variable& x, int64_t start_dim = 0, int64_t end_dim = -1);
Variable contiguous(const Variable& x);

Variable cat(const std::vector<Variable>& xs, int64_t dim);
std::vector<Variable> split(const Variable& x, int64_t size, int64_t dim);
std::vector<Variable> chunk(const Variable& x, int64_t chunks, int64_t dim);
Variable flip(const Variable& x, const std::vector<int64_t>& dims);

}  // namespace autograd
