// elementwise.cpp: unary math, broadcasting binary ops, comparisons, where/masked_fill and the
// in-place updates. The CPU kernels are here (each op picks its formula once, outside the element
// loop); tensors on a GPU go to tensor/cuda/elementwise.cu, which uses the same formulas.
#include "tensor/ops/elementwise.h"

#include <cmath>

#include "tensor/cpu/map.h"
#include "tensor/cuda/dispatch.h"
#include "tensor/cuda/elementwise.h"
#include "tensor/ops/creation.h"

namespace tensor {

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return "neg";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Log1p: return "log1p";
    case UnaryOp::Expm1: return "expm1";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Rsqrt: return "rsqrt";
    case UnaryOp::Abs: return "abs";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Relu: return "relu";
    case UnaryOp::Silu: return "silu";
    case UnaryOp::Softplus: return "softplus";
    case UnaryOp::Gelu: return "gelu";
    case UnaryOp::Square: return "square";
    case UnaryOp::Sign: return "sign";
  }
  return "?";
}

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    case BinaryOp::Pow: return "pow";
    case BinaryOp::Maximum: return "maximum";
    case BinaryOp::Minimum: return "minimum";
  }
  return "?";
}

namespace {

template <typename T> inline T sigmoid_of(T x) {
  // split by sign so exp never overflows
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

constexpr double kSoftplusThreshold = 20.0;  // PyTorch's: above it softplus(x) == x in float
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

bool is_integer_friendly(UnaryOp op) {
  return op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Square || op == UnaryOp::Sign;
}

template <typename T> void unary_kernel(UnaryOp op, const Tensor& out, const Tensor& x) {
  using cpu::map1;
  switch (op) {
    case UnaryOp::Neg: map1<T, T>(out, x, [](T v) { return static_cast<T>(-v); }); break;
    case UnaryOp::Abs: map1<T, T>(out, x, [](T v) { return v < T(0) ? static_cast<T>(-v) : v; }); break;
    case UnaryOp::Square: map1<T, T>(out, x, [](T v) { return static_cast<T>(v * v); }); break;
    case UnaryOp::Sign: map1<T, T>(out, x, [](T v) { return static_cast<T>((T(0) < v) - (v < T(0))); }); break;
    default:
      if constexpr (std::is_floating_point_v<T>) {
        switch (op) {
          case UnaryOp::Exp: map1<T, T>(out, x, [](T v) { return std::exp(v); }); break;
          case UnaryOp::Log: map1<T, T>(out, x, [](T v) { return std::log(v); }); break;
          case UnaryOp::Log1p: map1<T, T>(out, x, [](T v) { return std::log1p(v); }); break;
          case UnaryOp::Expm1: map1<T, T>(out, x, [](T v) { return std::expm1(v); }); break;
          case UnaryOp::Sqrt: map1<T, T>(out, x, [](T v) { return std::sqrt(v); }); break;
          case UnaryOp::Rsqrt: map1<T, T>(out, x, [](T v) { return T(1) / std::sqrt(v); }); break;
          case UnaryOp::Sigmoid: map1<T, T>(out, x, [](T v) { return sigmoid_of(v); }); break;
          case UnaryOp::Tanh: map1<T, T>(out, x, [](T v) { return std::tanh(v); }); break;
          case UnaryOp::Relu: map1<T, T>(out, x, [](T v) { return v > T(0) || v != v ? v : T(0); }); break;
          case UnaryOp::Silu: map1<T, T>(out, x, [](T v) { return v * sigmoid_of(v); }); break;
          case UnaryOp::Softplus:
            map1<T, T>(out, x, [](T v) { return v > T(kSoftplusThreshold) ? v : std::log1p(std::exp(v)); });
            break;
          case UnaryOp::Gelu:
            map1<T, T>(out, x, [](T v) { return T(0.5) * v * (T(1) + std::erf(v * T(kInvSqrt2))); });
            break;
          default: break;
        }
      }
  }
}

template <typename T>
void unary_backward_kernel(UnaryOp op, const Tensor& out, const Tensor& g, const Tensor& x, const Tensor& y) {
  using cpu::map2;
  using cpu::map3;
  switch (op) {
    case UnaryOp::Neg: cpu::map1<T, T>(out, g, [](T gv) { return -gv; }); break;
    case UnaryOp::Exp: map2<T, T, T>(out, g, y, [](T gv, T yv) { return gv * yv; }); break;
    case UnaryOp::Log: map2<T, T, T>(out, g, x, [](T gv, T xv) { return gv / xv; }); break;
    case UnaryOp::Log1p: map2<T, T, T>(out, g, x, [](T gv, T xv) { return gv / (T(1) + xv); }); break;
    case UnaryOp::Expm1: map2<T, T, T>(out, g, y, [](T gv, T yv) { return gv * (yv + T(1)); }); break;
    case UnaryOp::Sqrt: map2<T, T, T>(out, g, y, [](T gv, T yv) { return gv * T(0.5) / yv; }); break;
    case UnaryOp::Rsqrt: map2<T, T, T>(out, g, y, [](T gv, T yv) { return gv * T(-0.5) * yv * yv * yv; }); break;
    case UnaryOp::Abs:
      map2<T, T, T>(out, g, x, [](T gv, T xv) { return gv * static_cast<T>((T(0) < xv) - (xv < T(0))); });
      break;
    case UnaryOp::Sigmoid: map2<T, T, T>(out, g, y, [](T gv, T yv) { return gv * yv * (T(1) - yv); }); break;
    case UnaryOp::Tanh: map2<T, T, T>(out, g, y, [](T gv, T yv) { return gv * (T(1) - yv * yv); }); break;
    case UnaryOp::Relu: map2<T, T, T>(out, g, x, [](T gv, T xv) { return xv > T(0) ? gv : T(0); }); break;
    case UnaryOp::Silu:
      // d/dx x s(x) = s (1 + x (1 - s))
      map2<T, T, T>(out, g, x, [](T gv, T xv) {
        T s = sigmoid_of(xv);
        return gv * s * (T(1) + xv * (T(1) - s));
      });
      break;
    case UnaryOp::Softplus:
      map2<T, T, T>(out, g, x, [](T gv, T xv) { return xv > T(kSoftplusThreshold) ? gv : gv * sigmoid_of(xv); });
      break;
    case UnaryOp::Gelu:
      // d/dx x Phi(x) = Phi(x) + x phi(x)
      map2<T, T, T>(out, g, x, [](T gv, T xv) {
        T cdf = T(0.5) * (T(1) + std::erf(xv * T(kInvSqrt2)));
        T pdf = T(kInvSqrt2Pi) * std::exp(T(-0.5) * xv * xv);
        return gv * (cdf + xv * pdf);
      });
      break;
    case UnaryOp::Square: map2<T, T, T>(out, g, x, [](T gv, T xv) { return T(2) * gv * xv; }); break;
    case UnaryOp::Sign: cpu::map1<T, T>(out, g, [](T) { return T(0); }); break;
  }
}

template <typename T> void binary_kernel(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  using cpu::map2;
  switch (op) {
    case BinaryOp::Add: map2<T, T, T>(out, a, b, [](T x, T y) { return static_cast<T>(x + y); }); break;
    case BinaryOp::Sub: map2<T, T, T>(out, a, b, [](T x, T y) { return static_cast<T>(x - y); }); break;
    case BinaryOp::Mul: map2<T, T, T>(out, a, b, [](T x, T y) { return static_cast<T>(x * y); }); break;
    case BinaryOp::Div:
      if constexpr (std::is_floating_point_v<T>) {
        map2<T, T, T>(out, a, b, [](T x, T y) { return x / y; });
      } else {
        // zero divisors were rejected by binary() before any thread started
        map2<T, T, T>(out, a, b, [](T x, T y) { return static_cast<T>(x / y); });
      }
      break;
    case BinaryOp::Pow:
      map2<T, T, T>(out, a, b, [](T x, T y) { return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y))); });
      break;
    case BinaryOp::Maximum:
      map2<T, T, T>(out, a, b, [](T x, T y) { return x != x ? x : (y != y ? y : (x > y ? x : y)); });
      break;
    case BinaryOp::Minimum:
      map2<T, T, T>(out, a, b, [](T x, T y) { return x != x ? x : (y != y ? y : (x < y ? x : y)); });
      break;
  }
}

void check_binary(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a);
  check_defined(op, b);
  check_same_device(op, a, b);
  check_same_dtype(op, a, b);
}

}  // namespace

Tensor unary(UnaryOp op, const Tensor& x) {
  const char* name = unary_name(op);
  check_defined(name, x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  PM_ON_CUDA(x, cuda::unary(op, out, x); return out);
  if (is_integer_friendly(op))
    dispatch_all(x.dtype(), name, [&](auto tag) { unary_kernel<typename decltype(tag)::type>(op, out, x); });
  else
    dispatch_float(x.dtype(), name, [&](auto tag) { unary_kernel<typename decltype(tag)::type>(op, out, x); });
  return out;
}

Tensor unary_backward(UnaryOp op, const Tensor& grad, const Tensor& x, const Tensor& y) {
  const char* name = unary_name(op);
  check_binary(name, grad, x);
  if (grad.shape() != x.shape())
    throw std::invalid_argument(std::string(name) + " backward: gradient " + shape_str(grad.shape()) + " for input " +
                                shape_str(x.shape()));
  if (y.defined()) check_same_device(name, x, y);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  PM_ON_CUDA(x, cuda::unary_backward(op, out, grad, x, y.defined() ? y : x); return out);
  dispatch_float(x.dtype(), name, [&](auto tag) {
    unary_backward_kernel<typename decltype(tag)::type>(op, out, grad, x, y.defined() ? y : x);
  });
  return out;
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  check_binary(name, a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  if (op == BinaryOp::Div && !is_floating(b.dtype())) {
    bool zero = false;
    PM_ON_CUDA(b, zero = cuda::any_zero(b));  // one flag back from the GPU, not the whole divisor
    if (b.device().is_cpu())
      for (double v : b.to_vector()) zero = zero || v == 0;
    if (zero) throw std::domain_error("div: integer division by zero in divisor of shape " + shape_str(b.shape()));
  }
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  PM_ON_CUDA(a, cuda::binary(op, out, a, b); return out);
  dispatch_all(a.dtype(), name, [&](auto tag) { binary_kernel<typename decltype(tag)::type>(op, out, a, b); });
  return out;
}

Tensor compare(CompareOp op, const Tensor& a, const Tensor& b) {
  check_binary("compare", a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), "compare");
  Tensor out = Tensor::empty(shape, DType::UInt8, a.device());
  PM_ON_CUDA(a, cuda::compare(op, out, a, b); return out);
  dispatch_all(a.dtype(), "compare", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using cpu::map2;
    switch (op) {
      case CompareOp::Eq: map2<uint8_t, T, T>(out, a, b, [](T x, T y) { return uint8_t(x == y); }); break;
      case CompareOp::Ne: map2<uint8_t, T, T>(out, a, b, [](T x, T y) { return uint8_t(x != y); }); break;
      case CompareOp::Lt: map2<uint8_t, T, T>(out, a, b, [](T x, T y) { return uint8_t(x < y); }); break;
      case CompareOp::Le: map2<uint8_t, T, T>(out, a, b, [](T x, T y) { return uint8_t(x <= y); }); break;
      case CompareOp::Gt: map2<uint8_t, T, T>(out, a, b, [](T x, T y) { return uint8_t(x > y); }); break;
      case CompareOp::Ge: map2<uint8_t, T, T>(out, a, b, [](T x, T y) { return uint8_t(x >= y); }); break;
    }
  });
  return out;
}

Tensor add(const Tensor& a, double s) { return binary(BinaryOp::Add, a, scalar_tensor(s, a.dtype(), a.device())); }
Tensor mul(const Tensor& a, double s) { return binary(BinaryOp::Mul, a, scalar_tensor(s, a.dtype(), a.device())); }
Tensor pow(const Tensor& a, double s) { return binary(BinaryOp::Pow, a, scalar_tensor(s, a.dtype(), a.device())); }

Tensor clamp(const Tensor& x, double lo, double hi) {
  if (lo > hi) throw std::invalid_argument("clamp: lo " + std::to_string(lo) + " > hi " + std::to_string(hi));
  return minimum(maximum(x, scalar_tensor(lo, x.dtype(), x.device())), scalar_tensor(hi, x.dtype(), x.device()));
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_binary("where", a, b);
  check_defined("where", cond, "condition");
  check_same_device("where", cond, a);
  if (cond.dtype() != DType::UInt8)
    throw std::invalid_argument(std::string("where: condition must be uint8, got ") + dtype_name(cond.dtype()));
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  PM_ON_CUDA(a, cuda::where(out, cond, a, b); return out);
  dispatch_all(a.dtype(), "where", [&](auto tag) {
    using T = typename decltype(tag)::type;
    cpu::map3<T, uint8_t, T, T>(out, cond, a, b, [](uint8_t c, T x, T y) { return c ? x : y; });
  });
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  return where(mask, full({}, value, x.dtype(), x.device()), x).expand(x.shape()).contiguous();
}

void add_(const Tensor& dst, const Tensor& src, double alpha) {
  check_binary("add_", dst, src);
  if (broadcast_shapes(dst.shape(), src.shape(), "add_") != dst.shape())
    throw std::invalid_argument("add_: source " + shape_str(src.shape()) + " does not broadcast to destination " +
                                shape_str(dst.shape()));
  PM_ON_CUDA(dst, cuda::add_(dst, src, alpha); return);
  dispatch_all(dst.dtype(), "add_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (alpha == 1.0) {
      cpu::map2<T, T, T>(dst, dst, src, [](T d, T s) { return static_cast<T>(d + s); });
    } else {
      const T al = static_cast<T>(alpha);
      cpu::map2<T, T, T>(dst, dst, src, [al](T d, T s) { return static_cast<T>(d + al * s); });
    }
  });
}

void mul_(const Tensor& dst, double s) {
  check_defined("mul_", dst);
  PM_ON_CUDA(dst, cuda::mul_(dst, s); return);
  dispatch_all(dst.dtype(), "mul_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T sv = static_cast<T>(s);
    cpu::map1<T, T>(dst, dst, [sv](T d) { return static_cast<T>(d * sv); });
  });
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return false;
  auto va = a.to_vector(), vb = b.to_vector();
  for (size_t i = 0; i < va.size(); ++i)
    if (!(std::fabs(va[i] - vb[i]) <= atol + rtol * std::fabs(vb[i]))) return false;
  return true;
}

}  // namespace tensor
