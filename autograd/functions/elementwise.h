// elementwise.h (autograd): differentiable elementwise ops on Variables. Broadcasting inputs get
// their gradients summed back to their own shapes.
#pragma once
#include "autograd/variable.h"
#include "tensor/ops/elementwise.h"

namespace autograd {

Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable pow(const Variable& a, const Variable& b);  // a > 0 where b's gradient is needed
Variable maximum(const Variable& a, const Variable& b);  // ties split the gradient evenly
Variable minimum(const Variable& a, const Variable& b);
Variable add(const Variable& a, double s);
Variable mul(const Variable& a, double s);
Variable pow(const Variable& a, double s);

Variable unary(tensor::UnaryOp op, const Variable& x);
inline Variable neg(const Variable& x) { return unary(tensor::UnaryOp::Neg, x); }
inline Variable exp(const Variable& x) { return unary(tensor::UnaryOp::Exp, x); }
inline Variable log(const Variable& x) { return unary(tensor::UnaryOp::Log, x); }
inline Variable log1p(const Variable& x) { return unary(tensor::UnaryOp::Log1p, x); }
inline Variable expm1(const Variable& x) { return unary(tensor::UnaryOp::Expm1, x); }
inline Variable sqrt(const Variable& x) { return unary(tensor::UnaryOp::Sqrt, x); }
inline Variable rsqrt(const Variable& x) { return unary(tensor::UnaryOp::Rsqrt, x); }
inline Variable abs(const Variable& x) { return unary(tensor::UnaryOp::Abs, x); }
inline Variable sigmoid(const Variable& x) { return unary(tensor::UnaryOp::Sigmoid, x); }
inline Variable tanh(const Variable& x) { return unary(tensor::UnaryOp::Tanh, x); }
inline Variable relu(const Variable& x) { return unary(tensor::UnaryOp::Relu, x); }
inline Variable silu(const Variable& x) { return unary(tensor::UnaryOp::Silu, x); }
inline Variable softplus(const Variable& x) { return unary(tensor::UnaryOp::Softplus, x); }
inline Variable gelu(const Variable& x) { return unary(tensor::UnaryOp::Gelu, x); }
inline Variable square(const Variable& x) { return unary(tensor::UnaryOp::Square, x); }

// cond (uint8 tensor, not differentiable) ? a : b, broadcasting.
Variable where(const Tensor& cond, const Variable& a, const Variable& b);
Variable masked_fill(const Variable& x, const Tensor& mask, double value);
Variable clamp(const Variable& x, double lo, double hi);

inline Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
inline Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
inline Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
inline Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
inline Variable operator-(const Variable& a) { return neg(a); }
inline Variable operator+(const Variable& a, double s) { return add(a, s); }
inline Variable operator-(const Variable& a, double s) { return add(a, -s); }
inline Variable operator*(const Variable& a, double s) { return mul(a, s); }
inline Variable operator*(double s, const Variable& a) { return mul(a, s); }
inline Variable operator/(const Variable& a, double s) { return mul(a, 1.0 / s); }

}  // namespace autograd
