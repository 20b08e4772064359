// elementwise.h: broadcasting binary ops, unary math, comparisons, selection and in-place updates.
// Binary ops follow NumPy broadcasting; both inputs must share dtype and device.
#pragma once
#include "tensor/tensor.h"

namespace tensor {

enum class UnaryOp { Neg, Exp, Log, Log1p, Expm1, Sqrt, Rsqrt, Abs, Sigmoid, Tanh, Relu, Silu, Softplus, Gelu, Square, Sign };
enum class BinaryOp { Add, Sub, Mul, Div, Pow, Maximum, Minimum };
enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge };

const char* unary_name(UnaryOp op);
const char* binary_name(BinaryOp op);

Tensor unary(UnaryOp op, const Tensor& x);
// grad * f'(x) for a unary op; `y` = f(x) is used where cheaper (exp, sigmoid, tanh, sqrt, ...).
Tensor unary_backward(UnaryOp op, const Tensor& grad, const Tensor& x, const Tensor& y);
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
Tensor compare(CompareOp op, const Tensor& a, const Tensor& b);  // uint8 0/1

inline Tensor neg(const Tensor& x) { return unary(UnaryOp::Neg, x); }
inline Tensor exp(const Tensor& x) { return unary(UnaryOp::Exp, x); }
inline Tensor log(const Tensor& x) { return unary(UnaryOp::Log, x); }
inline Tensor log1p(const Tensor& x) { return unary(UnaryOp::Log1p, x); }
inline Tensor expm1(const Tensor& x) { return unary(UnaryOp::Expm1, x); }
inline Tensor sqrt(const Tensor& x) { return unary(UnaryOp::Sqrt, x); }
inline Tensor rsqrt(const Tensor& x) { return unary(UnaryOp::Rsqrt, x); }
inline Tensor abs(const Tensor& x) { return unary(UnaryOp::Abs, x); }
inline Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::Sigmoid, x); }
inline Tensor tanh(const Tensor& x) { return unary(UnaryOp::Tanh, x); }
inline Tensor relu(const Tensor& x) { return unary(UnaryOp::Relu, x); }
inline Tensor silu(const Tensor& x) { return unary(UnaryOp::Silu, x); }
// log(1 + e^x), and x itself where x > 20 (PyTorch's threshold, beta = 1).
inline Tensor softplus(const Tensor& x) { return unary(UnaryOp::Softplus, x); }
// Exact GELU: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
inline Tensor gelu(const Tensor& x) { return unary(UnaryOp::Gelu, x); }
inline Tensor square(const Tensor& x) { return unary(UnaryOp::Square, x); }
inline Tensor sign(const Tensor& x) { return unary(UnaryOp::Sign, x); }

inline Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); }
inline Tensor pow(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Pow, a, b); }
inline Tensor maximum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Maximum, a, b); }
inline Tensor minimum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Minimum, a, b); }
// Scalar forms: the scalar takes the tensor's dtype.
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor pow(const Tensor& a, double s);
Tensor clamp(const Tensor& x, double lo, double hi);

// out = cond ? a : b, all three broadcast; cond is uint8.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// x with `value` where mask (uint8, broadcast to x) is nonzero.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// In place: dst += alpha * src (src broadcast to dst), dst *= s.
void add_(const Tensor& dst, const Tensor& src, double alpha = 1.0);
void mul_(const Tensor& dst, double s);

// True when every element of a and b (same shape) satisfies |a-b| <= atol + rtol*|b|.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

}  // namespace tensor
