// reduce.h (autograd): differentiable reductions and softmax.
#pragma once
#include <vector>

#include "autograd/variable.h"

namespace autograd {

Variable sum(const Variable& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Variable mean(const Variable& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Variable var(const Variable& x, const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false);
// Maximum along dim; the gradient goes to the (first) arg-max.
Variable max(const Variable& x, int64_t dim, bool keepdim = false);
Variable softmax(const Variable& x, int64_t dim);
Variable log_softmax(const Variable& x, int64_t dim);

}  // namespace autograd
