// elementwise.h: the CUDA kernels behind tensor/ops/elementwise.h. The op functions check their
// arguments, allocate `out` on the inputs' device and call these; the formulas are the CPU's
// (softplus threshold 20, exact GELU through erf, sign-split sigmoid, NaN-propagating
// maximum/minimum). Float ops take float32/float64; neg, abs, square, sign, the binary ops,
// comparisons, where, add_ and mul_ also take the integer dtypes, as on the CPU.
// Declared in every build; defined only when the CUDA backend is compiled (tensor/cuda/*.cu), so
// call them only inside PM_ON_CUDA (tensor/cuda/dispatch.h).
#pragma once
#include "tensor/ops/elementwise.h"
#include "tensor/tensor.h"

namespace tensor::cuda {

void unary(UnaryOp op, const Tensor& out, const Tensor& x);
// out = grad * f'(x); `y` = f(x) (or x itself when the caller had no y), as the CPU kernel.
void unary_backward(UnaryOp op, const Tensor& out, const Tensor& grad, const Tensor& x, const Tensor& y);
void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b);
void compare(CompareOp op, const Tensor& out, const Tensor& a, const Tensor& b);  // out uint8
void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b);
void add_(const Tensor& dst, const Tensor& src, double alpha);
void mul_(const Tensor& dst, double s);
// True when some element of t (any layout, integer dtype) is zero: the integer division check.
bool any_zero(const Tensor& t);

}  // namespace tensor::cuda
