// elementwise.cpp (autograd): backward rules of the elementwise ops. Broadcast inputs receive
// their gradient summed back to their own shape (tensor::sum_to).
#include "autograd/functions/elementwise.h"

#include "tensor/ops/creation.h"
#include "tensor/ops/reduce.h"

namespace autograd {

using tensor::Shape;
namespace T = tensor;

PM_DIFFERENTIABLE_OP("add");
PM_DIFFERENTIABLE_OP("sub");
PM_DIFFERENTIABLE_OP("mul");
PM_DIFFERENTIABLE_OP("div");
PM_DIFFERENTIABLE_OP("pow");
PM_DIFFERENTIABLE_OP("maximum");
PM_DIFFERENTIABLE_OP("minimum");
PM_DIFFERENTIABLE_OP("add_scalar");
PM_DIFFERENTIABLE_OP("mul_scalar");
PM_DIFFERENTIABLE_OP("pow_scalar");
PM_DIFFERENTIABLE_OP("where");
PM_DIFFERENTIABLE_OP("masked_fill");
PM_DIFFERENTIABLE_OP("clamp");
// every unary op registers under its tensor::unary_name
PM_DIFFERENTIABLE_OP("neg");
PM_DIFFERENTIABLE_OP("exp");
PM_DIFFERENTIABLE_OP("log");
PM_DIFFERENTIABLE_OP("log1p");
PM_DIFFERENTIABLE_OP("expm1");
PM_DIFFERENTIABLE_OP("sqrt");
PM_DIFFERENTIABLE_OP("rsqrt");
PM_DIFFERENTIABLE_OP("abs");
PM_DIFFERENTIABLE_OP("sigmoid");
PM_DIFFERENTIABLE_OP("tanh");
PM_DIFFERENTIABLE_OP("relu");
PM_DIFFERENTIABLE_OP("silu");
PM_DIFFERENTIABLE_OP("softplus");
PM_DIFFERENTIABLE_OP("gelu");
PM_DIFFERENTIABLE_OP("square");

namespace {

// add and sub: the gradient passes through (negated for sub's second input).
struct AddSubBackward final : Node {
  bool subtract = false;
  Shape a_shape, b_shape;
  const char* name() const override { return subtract ? "sub" : "add"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gb = T::sum_to(g, b_shape);
    return {T::sum_to(g, a_shape), subtract ? T::neg(gb) : gb};
  }
};

struct MulBackward final : Node {
  Tensor a, b;  // each saved only when the other input needs its gradient
  Shape a_shape, b_shape;
  const char* name() const override { return "mul"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor ga = next[0] ? T::sum_to(T::mul(g, b), a_shape) : Tensor();
    Tensor gb = next[1] ? T::sum_to(T::mul(g, a), b_shape) : Tensor();
    return {ga, gb};
  }
  void release_saved() override { a = b = Tensor(); }
};

// y = a / b: da = g / b, db = -g y / b.
struct DivBackward final : Node {
  Tensor b, y;
  Shape a_shape, b_shape;
  const char* name() const override { return "div"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor g_over_b = T::div(g, b);
    Tensor ga = next[0] ? T::sum_to(g_over_b, a_shape) : Tensor();
    Tensor gb = next[1] ? T::sum_to(T::neg(T::mul(g_over_b, y)), b_shape) : Tensor();
    return {ga, gb};
  }
  void release_saved() override { b = y = Tensor(); }
};

// y = a^b: da = g b a^(b-1), db = g y log(a).
struct PowBackward final : Node {
  Tensor a, b, y;
  Shape a_shape, b_shape;
  const char* name() const override { return "pow"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor ga, gb;
    if (next[0]) ga = T::sum_to(T::mul(g, T::mul(b, T::pow(a, T::add(b, -1.0)))), a_shape);
    if (next[1]) gb = T::sum_to(T::mul(g, T::mul(y, T::log(a))), b_shape);
    return {ga, gb};
  }
  void release_saved() override { a = b = y = Tensor(); }
};

// maximum / minimum: the gradient goes to the winner; ties split it evenly (as torch).
struct MaxMinBackward final : Node {
  bool is_max = true;
  Tensor a, b;
  Shape a_shape, b_shape;
  const char* name() const override { return is_max ? "maximum" : "minimum"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor a_wins = T::compare(is_max ? T::CompareOp::Gt : T::CompareOp::Lt, a, b);
    Tensor tie = T::compare(T::CompareOp::Eq, a, b);
    Tensor zero = T::zeros({}, g.dtype(), g.device());
    Tensor half_g = T::where(tie, T::mul(g, 0.5), zero);
    Tensor ga = next[0] ? T::sum_to(T::add(T::where(a_wins, g, zero), half_g), a_shape) : Tensor();
    Tensor b_wins = T::compare(is_max ? T::CompareOp::Lt : T::CompareOp::Gt, a, b);
    Tensor gb = next[1] ? T::sum_to(T::add(T::where(b_wins, g, zero), half_g), b_shape) : Tensor();
    return {ga, gb};
  }
  void release_saved() override { a = b = Tensor(); }
};

struct AddScalarBackward final : Node {
  const char* name() const override { return "add_scalar"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g}; }
};

struct MulScalarBackward final : Node {
  double s = 1;
  const char* name() const override { return "mul_scalar"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {T::mul(g, s)}; }
};

// y = x^s: dx = g s x^(s-1).
struct PowScalarBackward final : Node {
  double s = 1;
  Tensor x;
  const char* name() const override { return "pow_scalar"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {T::mul(g, T::mul(T::pow(x, s - 1.0), s))}; }
  void release_saved() override { x = Tensor(); }
};

// Which of x and y = f(x) a unary op's derivative reads.
bool backward_reads_output(T::UnaryOp op) {
  switch (op) {
    case T::UnaryOp::Exp: case T::UnaryOp::Expm1: case T::UnaryOp::Sqrt: case T::UnaryOp::Rsqrt:
    case T::UnaryOp::Sigmoid: case T::UnaryOp::Tanh:
      return true;
    default:
      return false;
  }
}

struct UnaryBackward final : Node {
  T::UnaryOp op;
  Tensor x, y;  // exactly one is saved, as backward_reads_output says
  explicit UnaryBackward(T::UnaryOp o) : op(o) {}
  const char* name() const override { return T::unary_name(op); }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor& in = x.defined() ? x : y;
    return {T::unary_backward(op, g, in, y)};
  }
  void release_saved() override { x = y = Tensor(); }
};

struct WhereBackward final : Node {
  Tensor cond;
  Shape a_shape, b_shape;
  const char* name() const override { return "where"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor zero = T::zeros({}, g.dtype(), g.device());
    Tensor ga = next[0] ? T::sum_to(T::where(cond, g, zero), a_shape) : Tensor();
    Tensor gb = next[1] ? T::sum_to(T::where(cond, zero, g), b_shape) : Tensor();
    return {ga, gb};
  }
  void release_saved() override { cond = Tensor(); }
};

// masked_fill and clamp: the gradient flows where `pass` is set.
struct MaskedBackward final : Node {
  const char* op_name;
  Tensor pass;  // uint8, broadcast to the input
  explicit MaskedBackward(const char* n) : op_name(n) {}
  const char* name() const override { return op_name; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {T::where(pass, g, T::zeros({}, g.dtype(), g.device())).expand(g.shape()).contiguous()};
  }
  void release_saved() override { pass = Tensor(); }
};

}  // namespace

Variable add(const Variable& a, const Variable& b) {
  Tensor y = T::add(a.data(), b.data());
  if (!needs_grad({a, b})) return Variable(y);
  auto n = std::make_shared<AddSubBackward>();
  n->a_shape = a.shape();
  n->b_shape = b.shape();
  return record(y, n, {a, b});
}

Variable sub(const Variable& a, const Variable& b) {
  Tensor y = T::sub(a.data(), b.data());
  if (!needs_grad({a, b})) return Variable(y);
  auto n = std::make_shared<AddSubBackward>();
  n->subtract = true;
  n->a_shape = a.shape();
  n->b_shape = b.shape();
  return record(y, n, {a, b});
}

Variable mul(const Variable& a, const Variable& b) {
  Tensor y = T::mul(a.data(), b.data());
  if (!needs_grad({a, b})) return Variable(y);
  auto n = std::make_shared<MulBackward>();
  if (b.requires_grad()) n->a = a.data();
  if (a.requires_grad()) n->b = b.data();
  n->a_shape = a.shape();
  n->b_shape = b.shape();
  return record(y, n, {a, b});
}

Variable div(const Variable& a, const Variable& b) {
  Tensor y = T::div(a.data(), b.data());
  if (!needs_grad({a, b})) return Variable(y);
  auto n = std::make_shared<DivBackward>();
  n->b = b.data();
  if (b.requires_grad()) n->y = y;
  n->a_shape = a.shape();
  n->b_shape = b.shape();
  return record(y, n, {a, b});
}

Variable pow(const Variable& a, const Variable& b) {
  Tensor y = T::pow(a.data(), b.data());
  if (!needs_grad({a, b})) return Variable(y);
  auto n = std::make_shared<PowBackward>();
  n->a = a.data();
  if (a.requires_grad()) n->b = b.data();
  if (b.requires_grad()) n->y = y;
  n->a_shape = a.shape();
  n->b_shape = b.shape();
  return record(y, n, {a, b});
}

namespace {
Variable max_min(const Variable& a, const Variable& b, bool is_max) {
  Tensor y = is_max ? T::maximum(a.data(), b.data()) : T::minimum(a.data(), b.data());
  if (!needs_grad({a, b})) return Variable(y);
  auto n = std::make_shared<MaxMinBackward>();
  n->is_max = is_max;
  n->a = a.data();
  n->b = b.data();
  n->a_shape = a.shape();
  n->b_shape = b.shape();
  return record(y, n, {a, b});
}
}  // namespace

Variable maximum(const Variable& a, const Variable& b) { return max_min(a, b, true); }
Variable minimum(const Variable& a, const Variable& b) { return max_min(a, b, false); }

Variable add(const Variable& a, double s) {
  Tensor y = T::add(a.data(), s);
  if (!needs_grad({a})) return Variable(y);
  return record(y, std::make_shared<AddScalarBackward>(), {a});
}

Variable mul(const Variable& a, double s) {
  Tensor y = T::mul(a.data(), s);
  if (!needs_grad({a})) return Variable(y);
  auto n = std::make_shared<MulScalarBackward>();
  n->s = s;
  return record(y, n, {a});
}

Variable pow(const Variable& a, double s) {
  Tensor y = T::pow(a.data(), s);
  if (!needs_grad({a})) return Variable(y);
  auto n = std::make_shared<PowScalarBackward>();
  n->s = s;
  n->x = a.data();
  return record(y, n, {a});
}

Variable unary(T::UnaryOp op, const Variable& x) {
  Tensor y = T::unary(op, x.data());
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<UnaryBackward>(op);
  if (backward_reads_output(op))
    n->y = y;
  else
    n->x = x.data();
  return record(y, n, {x});
}

Variable where(const Tensor& cond, const Variable& a, const Variable& b) {
  Tensor y = T::where(cond, a.data(), b.data());
  if (!needs_grad({a, b})) return Variable(y);
  auto n = std::make_shared<WhereBackward>();
  n->cond = cond;
  n->a_shape = a.shape();
  n->b_shape = b.shape();
  return record(y, n, {a, b});
}

Variable masked_fill(const Variable& x, const Tensor& mask, double value) {
  Tensor y = T::masked_fill(x.data(), mask, value);
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<MaskedBackward>("masked_fill");
  n->pass = T::compare(T::CompareOp::Eq, mask, T::zeros({}, mask.dtype(), mask.device()));
  return record(y, n, {x});
}

Variable clamp(const Variable& x, double lo, double hi) {
  Tensor y = T::clamp(x.data(), lo, hi);
  if (!needs_grad({x})) return Variable(y);
  auto n = std::make_shared<MaskedBackward>("clamp");
  Tensor lo_t = T::scalar_tensor(lo, x.dtype(), x.device()), hi_t = T::scalar_tensor(hi, x.dtype(), x.device());
  n->pass = T::mul(T::compare(T::CompareOp::Ge, x.data(), lo_t), T::compare(T::CompareOp::Le, x.data(), hi_t));
  return record(y, n, {x});
}

}  // namespace autograd
