// index.h (autograd): differentiable integer indexing. Index tensors are int64 and carry no gradient.
#pragma once
#include "autograd/variable.h"

namespace autograd {

Variable index_select(const Variable& x, int64_t dim, const Tensor& idx);
Variable gather(const Variable& x, int64_t dim, const Tensor& idx);
Variable scatter_add(const Variable& base, int64_t dim, const Tensor& idx, const Variable& src);
// weight [V, D] at ids (any shape) -> [*ids.shape, D]; rows at padding_idx get no gradient.
Variable embedding(const Variable& weight, const Tensor& ids, int64_t padding_idx = -1);

}  // namespace autograd
