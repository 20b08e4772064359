// index.h: integer indexing: index_select, gather, scatter_add, index_add, embedding lookup.
// Index tensors are int64; every index is bounds-checked and a bad one is named in the error.
#pragma once
#include "tensor/tensor.h"

namespace tensor {

// out = x.select(dim, idx[i]) stacked along dim; idx is 1-d.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& idx);
// out[i][j][k] = x[idx[i][j][k]][j][k] for dim 0 (and so on), as torch.gather.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& idx);
// A copy of `base` with src[i][j][k] added at base[idx[i][j][k]][j][k] (dim 0), as torch.scatter_add.
Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& idx, const Tensor& src);
// A copy of `base` with src's slices added at base.select(dim, idx[i]); idx is 1-d.
Tensor index_add(const Tensor& base, int64_t dim, const Tensor& idx, const Tensor& src);
// weight [V, D] looked up at ids (int64, any shape) -> [*ids.shape, D].
Tensor embedding(const Tensor& weight, const Tensor& ids);
// d weight [V, D] from grad [*ids.shape, D]; rows equal to padding_idx (when >= 0) get no gradient.
Tensor embedding_backward(const Tensor& grad, const Tensor& ids, int64_t num_embeddings, int64_t padding_idx = -1);

}  // namespace tensor
