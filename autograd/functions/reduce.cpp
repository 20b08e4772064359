// reduce.cpp (autograd): backward rules of the reductions and softmax.
#include "autograd/functions/reduce.h"

#include "tensor/ops/creation.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/reduce.h"

namespace autograd {

using tensor::Shape;
namespace T = tensor;

PM_DIFFERENTIABLE_OP("sum");
PM_DIFFERENTIABLE_OP("mean");
PM_DIFFERENTIABLE_OP("var");
PM_DIFFERENTIABLE_OP("max");
PM_DIFFERENTIABLE_OP("softmax");
PM_DIFFERENTIABLE_OP("log_softmax");

namespace {

// The output shape with reduced dims kept as size 1, so a gradient can broadcast back.
Shape keep_shape(const Shape& in, const std::vector<int64_t>& dims) {
  Shape out = in;
  if (in.empty()) return out;
  if (dims.empty()) {
    for (auto& d : out) d = 1;
    return out;
  }
  for (int64_t d : dims) out[T::wrap_dim(d, static_cast<int64_t>(in.size()), "reduce")] = 1;
  return out;
}

// sum and mean: the gradient (scaled by 1/R for mean) is broadcast back over the reduced dims.
struct SumBackward final : Node {
  bool average = false;
  Shape in_shape, kept;
  double scale = 1;
  const char* name() const override { return average ? "mean" : "sum"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gk = g.reshape(kept);
    if (average) gk = T::mul(gk, scale);
    return {gk.expand(in_shape)};
  }
};

// var: dx = g * 2 (x - mean) / (R - correction).
struct VarBackward final : Node {
  Tensor x;
  std::vector<int64_t> dims;
  Shape kept;
  double denom = 1;
  const char* name() const override { return "var"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor centered = T::sub(x, T::mean(x, dims, true));
    return {T::mul(T::mul(centered, g.reshape(kept)), 2.0 / denom)};
  }
  void release_saved() override { x = Tensor(); }
};

// max along dim: the gradient goes to the arg-max position only.
struct MaxBackward final : Node {
  Tensor indices;  // keepdim layout
  Shape in_shape, kept;
  int64_t dim = 0;
  const char* name() const override { return "max"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Shape pos_shape(in_shape.size(), 1);
    pos_shape[dim] = in_shape[dim];
    Tensor positions = T::arange(in_shape[dim], T::DType::Int64, g.device()).reshape(pos_shape);
    Tensor hit = T::compare(T::CompareOp::Eq, positions, indices);  // broadcasts to in_shape
    Tensor gx = T::where(hit, g.reshape(kept), T::zeros({}, g.dtype(), g.device()));
    return {gx.expand(in_shape).contiguous()};
  }
  void release_saved() override { indices = Tensor(); }
};

struct SoftmaxBackward final : Node {
  bool log = false;
  Tensor y;
  int64_t dim = 0;
  const char* name() const override { return log ? "log_softmax" : "softmax"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {log ? T::log_softmax_backward(g, y, dim) : T::softmax_backward(g, y, dim)};
  }
  void release_saved() override { y = Tensor(); }
};

Variable sum_or_mean(const Variable& x, const std::vector<int64_t>& dims, bool keepdim, bool average) {
  Tensor y = average ? T::mean(x.data(), dims, keepdim) : T::sum(x.data(), dims, keepdim);
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<SumBackward>();
  n->average = average;
  n->in_shape = x.shape();
  n->kept = keep_shape(x.shape(), dims);
  n->scale = T::numel_of(x.shape()) ? static_cast<double>(T::numel_of(n->kept)) / T::numel_of(x.shape()) : 0.0;
  return record(y, n, {x});
}

Variable softmax_impl(const Variable& x, int64_t dim, bool log) {
  Tensor y = log ? T::log_softmax(x.data(), dim) : T::softmax(x.data(), dim);
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<SoftmaxBackward>();
  n->log = log;
  n->y = y;
  n->dim = dim;
  return record(y, n, {x});
}

}  // namespace

Variable sum(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) { return sum_or_mean(x, dims, keepdim, false); }
Variable mean(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) { return sum_or_mean(x, dims, keepdim, true); }

Variable var(const Variable& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  Tensor y = T::var(x.data(), dims, correction, keepdim);
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<VarBackward>();
  n->x = x.data();
  n->dims = dims;
  n->kept = keep_shape(x.shape(), dims);
  int64_t R = T::numel_of(x.shape()) / std::max<int64_t>(1, T::numel_of(n->kept));
  n->denom = static_cast<double>(R - correction);
  return record(y, n, {x});
}

Variable max(const Variable& x, int64_t dim, bool keepdim) {
  auto [values, indices] = T::max(x.data(), dim, keepdim);
  if (!needs_grad({x})) return Variable(values);
  auto n = std::make_shared<MaxBackward>();
  n->dim = T::wrap_dim(dim, x.dim(), "max");
  n->in_shape = x.shape();
  n->kept = keep_shape(x.shape(), {dim});
  n->indices = indices.reshape(n->kept);
  return record(values, n, {x});
}

Variable softmax(const Variable& x, int64_t dim) { return softmax_impl(x, dim, false); }
Variable log_softmax(const Variable& x, int64_t dim) { return softmax_impl(x, dim, true); }

}  // namespace autograd
