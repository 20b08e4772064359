// nn_ops.cpp (autograd): the fused neural-network ops as differentiable functions: conv2d,
// rms_norm, layer_norm and cross_entropy. Forward and backward are the fused kernels of
// tensor/ops/nn_ops.h; each node saves the inputs and statistics its backward reads.
#include "autograd/functions/nn_ops.h"

namespace autograd {

namespace T = tensor;

PM_DIFFERENTIABLE_OP("conv2d");
PM_DIFFERENTIABLE_OP("rms_norm");
PM_DIFFERENTIABLE_OP("layer_norm");
PM_DIFFERENTIABLE_OP("cross_entropy");

namespace {

struct Conv2dBackward final : Node {
  Tensor x, w;  // x for dw, w for dx (and both for the geometry)
  bool has_bias = false;
  T::Conv2dParams p;
  const char* name() const override { return "conv2d"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    T::Conv2dGrads r = T::conv2d_backward(g, x, w, has_bias && next[2] != nullptr, p, next[0] != nullptr,
                                          next[1] != nullptr);
    return {r.dx, r.dw, r.dbias};
  }
  void release_saved() override { x = w = Tensor(); }
};

struct RmsNormBackward final : Node {
  Tensor x, weight, rstd;  // weight undefined when there is none
  const char* name() const override { return "rms_norm"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    T::NormGrads r = T::rms_norm_backward(g, x, weight, rstd);
    return {next[0] ? r.dx : Tensor(), next[1] ? r.dweight : Tensor()};
  }
  void release_saved() override { x = weight = rstd = Tensor(); }
};

struct LayerNormBackward final : Node {
  Tensor x, weight, mean, rstd;
  bool has_bias = false;
  const char* name() const override { return "layer_norm"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    T::NormGrads r = T::layer_norm_backward(g, x, weight, mean, rstd, has_bias && next[2] != nullptr);
    return {next[0] ? r.dx : Tensor(), next[1] ? r.dweight : Tensor(), r.dbias};
  }
  void release_saved() override { x = weight = mean = rstd = Tensor(); }
};

struct CrossEntropyBackward final : Node {
  Tensor logits, target, row_lse;  // row_lse: the forward's per-row log-sum-exp, so the backward reads logits once
  T::CrossEntropyOptions opt;
  const char* name() const override { return "cross_entropy"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {T::cross_entropy_backward(g, logits, target, opt, row_lse)};
  }
  void release_saved() override { logits = target = row_lse = Tensor(); }
};

const Tensor& data_or_none(const Variable& v) {
  static const Tensor none;
  return v.defined() ? v.data() : none;
}

}  // namespace

Variable conv2d(const Variable& x, const Variable& w, const Variable& bias, const T::Conv2dParams& p) {
  Tensor y = T::conv2d(data_or_none(x), data_or_none(w), data_or_none(bias), p);
  if (!needs_grad({x, w, bias})) return Variable(y);
  auto n = std::make_shared<Conv2dBackward>();
  n->x = x.data();
  n->w = w.data();
  n->has_bias = bias.defined();
  n->p = p;
  return record(y, n, {x, w, bias});
}

Variable rms_norm(const Variable& x, const Variable& weight, double eps) {
  T::NormForward f = T::rms_norm(data_or_none(x), data_or_none(weight), eps);
  if (!needs_grad({x, weight})) return Variable(f.y);
  auto n = std::make_shared<RmsNormBackward>();
  n->x = x.data();
  n->weight = data_or_none(weight);
  n->rstd = f.rstd;
  return record(f.y, n, {x, weight});
}

Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias, double eps) {
  T::NormForward f = T::layer_norm(data_or_none(x), data_or_none(weight), data_or_none(bias), eps);
  if (!needs_grad({x, weight, bias})) return Variable(f.y);
  auto n = std::make_shared<LayerNormBackward>();
  n->x = x.data();
  n->weight = data_or_none(weight);
  n->mean = f.mean;
  n->rstd = f.rstd;
  n->has_bias = bias.defined();
  return record(f.y, n, {x, weight, bias});
}

Variable cross_entropy(const Variable& logits, const Tensor& target, const T::CrossEntropyOptions& opt) {
  if (!needs_grad({logits})) return Variable(T::cross_entropy(data_or_none(logits), target, opt));
  auto n = std::make_shared<CrossEntropyBackward>();
  Tensor loss = T::cross_entropy(logits.data(), target, opt, &n->row_lse);
  n->logits = logits.data();
  n->target = target;
  n->opt = opt;
  return record(loss, n, {logits});
}

}  // namespace autograd
