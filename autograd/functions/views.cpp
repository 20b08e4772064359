// views.cpp (autograd): differentiable views and rearrangements. Each backward maps the output's
// gradient back to the input's shape: reshape back, inverse permutation, sum over expanded dims,
// or zeros of the input's shape with the gradient added into the piece the view took.
#include "autograd/functions/views.h"

#include "tensor/ops/creation.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/reduce.h"
#include "tensor/ops/shape_ops.h"

namespace autograd {

using tensor::Shape;
namespace T = tensor;

PM_DIFFERENTIABLE_OP("view");
PM_DIFFERENTIABLE_OP("reshape");
PM_DIFFERENTIABLE_OP("permute");
PM_DIFFERENTIABLE_OP("transpose");
PM_DIFFERENTIABLE_OP("narrow");
PM_DIFFERENTIABLE_OP("slice");
PM_DIFFERENTIABLE_OP("select");
PM_DIFFERENTIABLE_OP("expand");
PM_DIFFERENTIABLE_OP("squeeze");
PM_DIFFERENTIABLE_OP("unsqueeze");
PM_DIFFERENTIABLE_OP("flatten");
PM_DIFFERENTIABLE_OP("contiguous");
PM_DIFFERENTIABLE_OP("cat");
PM_DIFFERENTIABLE_OP("split");
PM_DIFFERENTIABLE_OP("chunk");
PM_DIFFERENTIABLE_OP("flip");

namespace {

// view, reshape, squeeze, unsqueeze, flatten: same elements, new shape; the gradient is reshaped back.
struct ReshapeBackward final : Node {
  const char* op;
  Shape in_shape;
  explicit ReshapeBackward(const char* op_name) : op(op_name) {}
  const char* name() const override { return op; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.reshape(in_shape)}; }
};

struct PermuteBackward final : Node {
  std::vector<int64_t> inverse;  // inverse[d] = position of input dim d in the output
  const char* name() const override { return "permute"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.permute(inverse)}; }
};

struct TransposeBackward final : Node {
  int64_t d0 = 0, d1 = 0;
  const char* name() const override { return "transpose"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.transpose(d0, d1)}; }
};

// narrow, split and chunk pieces: zeros of the input's shape with g added into [start, start+length).
struct NarrowBackward final : Node {
  const char* op;
  Shape in_shape;
  int64_t dim = 0, start = 0, length = 0;
  explicit NarrowBackward(const char* op_name) : op(op_name) {}
  const char* name() const override { return op; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor z = T::zeros(in_shape, g.dtype(), g.device());
    T::add_(z.narrow(dim, start, length), g);
    return {z};
  }
};

struct SliceBackward final : Node {
  Shape in_shape;
  int64_t dim = 0, start = 0, end = 0, step = 1;
  const char* name() const override { return "slice"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor z = T::zeros(in_shape, g.dtype(), g.device());
    T::add_(z.slice(dim, start, end, step), g);
    return {z};
  }
};

struct SelectBackward final : Node {
  Shape in_shape;
  int64_t dim = 0, index = 0;
  const char* name() const override { return "select"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor z = T::zeros(in_shape, g.dtype(), g.device());
    T::add_(z.select(dim, index), g);
    return {z};
  }
};

struct ExpandBackward final : Node {
  Shape in_shape;
  const char* name() const override { return "expand"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {T::sum_to(g, in_shape)}; }
};

struct ContiguousBackward final : Node {
  const char* name() const override { return "contiguous"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g}; }
};

struct CatBackward final : Node {
  int64_t dim = 0;
  std::vector<int64_t> sizes;  // each input's extent along dim
  const char* name() const override { return "cat"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    std::vector<Tensor> out(sizes.size());
    int64_t at = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (next[i]) out[i] = g.narrow(dim, at, sizes[i]);
      at += sizes[i];
    }
    return out;
  }
};

struct FlipBackward final : Node {
  std::vector<int64_t> dims;
  const char* name() const override { return "flip"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {T::flip(g, dims)}; }
};

Variable reshape_like(const char* op, const Variable& x, const Tensor& y) {
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<ReshapeBackward>(op);
  n->in_shape = x.shape();
  return record(y, n, {x});
}

// The pieces of x along dim with the given sizes, each recorded with a node named `op`.
std::vector<Variable> pieces(const char* op, const Variable& x, const std::vector<Tensor>& ys, int64_t dim) {
  std::vector<Variable> out;
  out.reserve(ys.size());
  const bool grad = needs_grad({x});
  dim = tensor::wrap_dim(dim, x.dim(), op);
  int64_t at = 0;
  for (const Tensor& y : ys) {
    if (!grad) {
      out.emplace_back(y);
    } else {
      auto n = std::make_shared<NarrowBackward>(op);
      n->in_shape = x.shape();
      n->dim = dim;
      n->start = at;
      n->length = y.size(dim);
      out.push_back(record(y, n, {x}));
    }
    at += y.size(dim);
  }
  return out;
}

}  // namespace

Variable view(const Variable& x, const Shape& shape) { return reshape_like("view", x, x.data().view(shape)); }
Variable reshape(const Variable& x, const Shape& shape) { return reshape_like("reshape", x, x.data().reshape(shape)); }
Variable squeeze(const Variable& x, int64_t dim) { return reshape_like("squeeze", x, x.data().squeeze(dim)); }
Variable unsqueeze(const Variable& x, int64_t dim) { return reshape_like("unsqueeze", x, x.data().unsqueeze(dim)); }
Variable flatten(const Variable& x, int64_t start_dim, int64_t end_dim) {
  return reshape_like("flatten", x, x.data().flatten(start_dim, end_dim));
}

Variable permute(const Variable& x, const std::vector<int64_t>& dims) {
  Tensor y = x.data().permute(dims);  // validates dims
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<PermuteBackward>();
  n->inverse.resize(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) n->inverse[tensor::wrap_dim(dims[i], x.dim(), "permute")] = static_cast<int64_t>(i);
  return record(y, n, {x});
}

Variable transpose(const Variable& x, int64_t d0, int64_t d1) {
  Tensor y = x.data().transpose(d0, d1);
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<TransposeBackward>();
  n->d0 = d0;
  n->d1 = d1;
  return record(y, n, {x});
}

Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length) {
  Tensor y = x.data().narrow(dim, start, length);
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<NarrowBackward>("narrow");
  n->in_shape = x.shape();
  n->dim = tensor::wrap_dim(dim, x.dim(), "narrow");
  n->start = start < 0 ? start + x.size(n->dim) : start;
  n->length = length;
  return record(y, n, {x});
}

Variable slice(const Variable& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Tensor y = x.data().slice(dim, start, end, step);
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<SliceBackward>();
  n->in_shape = x.shape();
  n->dim = dim;
  n->start = start;
  n->end = end;
  n->step = step;
  return record(y, n, {x});
}

Variable select(const Variable& x, int64_t dim, int64_t index) {
  Tensor y = x.data().select(dim, index);
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<SelectBackward>();
  n->in_shape = x.shape();
  n->dim = dim;
  n->index = index;
  return record(y, n, {x});
}

Variable expand(const Variable& x, const Shape& shape) {
  Tensor y = x.data().expand(shape);
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<ExpandBackward>();
  n->in_shape = x.shape();
  return record(y, n, {x});
}

Variable contiguous(const Variable& x) {
  Tensor y = x.data().contiguous();
  if (!needs_grad({x})) return Variable(y);
  return record(y, std::make_shared<ContiguousBackward>(), {x});
}

Variable cat(const std::vector<Variable>& xs, int64_t dim) {
  std::vector<Tensor> ts;
  ts.reserve(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].defined()) throw std::invalid_argument("cat: tensor " + std::to_string(i) + " is undefined");
    ts.push_back(xs[i].data());
  }
  Tensor y = T::cat(ts, dim);
  if (!needs_grad(xs)) return Variable(y);
  auto n = std::make_shared<CatBackward>();
  n->dim = tensor::wrap_dim(dim, y.dim(), "cat");
  for (const Tensor& t : ts) n->sizes.push_back(t.size(n->dim));
  return record(y, n, xs);
}

std::vector<Variable> split(const Variable& x, int64_t size, int64_t dim) {
  return pieces("split", x, T::split(x.data(), size, dim), dim);
}

std::vector<Variable> chunk(const Variable& x, int64_t chunks, int64_t dim) {
  return pieces("chunk", x, T::chunk(x.data(), chunks, dim), dim);
}

Variable flip(const Variable& x, const std::vector<int64_t>& dims) {
  Tensor y = T::flip(x.data(), dims);
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<FlipBackward>();
  n->dims = dims;
  return record(y, n, {x});
}

}  // namespace autograd
