// index.cpp (autograd): differentiable integer indexing. A lookup's backward adds the gradient
// back at the looked-up positions, so repeated indices accumulate: index_select <-> index_add,
// gather <-> scatter_add, embedding <-> embedding_backward.
#include "autograd/functions/index.h"

#include "tensor/ops/creation.h"
#include "tensor/ops/index.h"

namespace autograd {

using tensor::Shape;
namespace T = tensor;

PM_DIFFERENTIABLE_OP("index_select");
PM_DIFFERENTIABLE_OP("gather");
PM_DIFFERENTIABLE_OP("scatter_add");
PM_DIFFERENTIABLE_OP("embedding");

namespace {

struct IndexSelectBackward final : Node {
  Shape in_shape;
  int64_t dim = 0;
  Tensor idx;
  const char* name() const override { return "index_select"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {T::index_add(T::zeros(in_shape, g.dtype(), g.device()), dim, idx, g)};
  }
  void release_saved() override { idx = Tensor(); }
};

struct GatherBackward final : Node {
  Shape in_shape;
  int64_t dim = 0;
  Tensor idx;
  const char* name() const override { return "gather"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {T::scatter_add(T::zeros(in_shape, g.dtype(), g.device()), dim, idx, g)};
  }
  void release_saved() override { idx = Tensor(); }
};

// out = base + scatter(src): d base = g; d src = g read back at the scattered positions.
// src may be larger than idx (only idx's extent is used), so its gradient is zero-padded.
struct ScatterAddBackward final : Node {
  Shape src_shape;
  int64_t dim = 0;
  Tensor idx;
  const char* name() const override { return "scatter_add"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gsrc;
    if (next[1]) {
      Tensor picked = T::gather(g, dim, idx);  // shape of idx
      if (picked.shape() == src_shape) {
        gsrc = picked;
      } else {
        gsrc = T::zeros(src_shape, g.dtype(), g.device());
        Tensor part = gsrc;
        for (int64_t d = 0; d < picked.dim(); ++d) part = part.narrow(d, 0, picked.size(d));
        part.copy_(picked);
      }
    }
    return {next[0] ? g : Tensor(), gsrc};
  }
  void release_saved() override { idx = Tensor(); }
};

struct EmbeddingBackward final : Node {
  Tensor ids;
  int64_t num_embeddings = 0, padding_idx = -1;
  const char* name() const override { return "embedding"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {T::embedding_backward(g, ids, num_embeddings, padding_idx)};
  }
  void release_saved() override { ids = Tensor(); }
};

}  // namespace

Variable index_select(const Variable& x, int64_t dim, const Tensor& idx) {
  Tensor y = T::index_select(x.data(), dim, idx);
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<IndexSelectBackward>();
  n->in_shape = x.shape();
  n->dim = dim;
  n->idx = idx;
  return record(y, n, {x});
}

Variable gather(const Variable& x, int64_t dim, const Tensor& idx) {
  Tensor y = T::gather(x.data(), dim, idx);
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<GatherBackward>();
  n->in_shape = x.shape();
  n->dim = dim;
  n->idx = idx;
  return record(y, n, {x});
}

Variable scatter_add(const Variable& base, int64_t dim, const Tensor& idx, const Variable& src) {
  Tensor y = T::scatter_add(base.data(), dim, idx, src.data());
  if (!needs_grad({base, src})) return Variable(y);
  auto n = std::make_shared<ScatterAddBackward>();
  n->src_shape = src.shape();
  n->dim = dim;
  if (src.requires_grad()) n->idx = idx;
  return record(y, n, {base, src});
}

Variable embedding(const Variable& weight, const Tensor& ids, int64_t padding_idx) {
  if (weight.defined() && weight.dim() == 2 && padding_idx >= weight.size(0))
    throw std::out_of_range("embedding: padding_idx " + std::to_string(padding_idx) + " out of range [0, " +
                            std::to_string(weight.size(0)) + ")");
  Tensor y = T::embedding(weight.data(), ids);
  if (!needs_grad({weight})) return Variable(y);
  auto n = std::make_shared<EmbeddingBackward>();
  n->ids = ids;
  n->num_embeddings = weight.size(0);
  n->padding_idx = padding_idx;
  return record(y, n, {weight});
}

}  // namespace autograd
