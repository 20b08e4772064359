// elementwise.cu: unary math and its backward, broadcasting binary ops, comparisons, where and the
// in-place updates on the GPU. Each op is a functor templated on the op (chosen once on the host)
// and the element type, with the same formula as tensor/ops/elementwise.cpp; tensor/cuda/map.cuh
// runs it over the operands (vectorised when contiguous, strided otherwise).
#include "tensor/cuda/elementwise.h"

#include <type_traits>

#include "tensor/cuda/map.cuh"

namespace tensor::cuda {
namespace {

constexpr double kSoftplusThreshold = 20.0;  // as the CPU: above it softplus(x) == x
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

bool is_integer_friendly(UnaryOp op) {
  return op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Square || op == UnaryOp::Sign;
}

// sigmoid split by sign so exp never overflows (the CPU's form).
template <typename T> __device__ __forceinline__ T sigmoid_of(T x) {
  if (x >= T(0)) return T(1) / (T(1) + d_exp(-x));
  const T e = d_exp(x);
  return e / (T(1) + e);
}

// ---- forward unary ---------------------------------------------------------------------------------

template <UnaryOp OP, typename T> struct UnaryF {
  __device__ __forceinline__ T operator()(T v) const {
    if constexpr (OP == UnaryOp::Neg) {
      return static_cast<T>(-v);
    } else if constexpr (OP == UnaryOp::Abs) {
      if constexpr (std::is_unsigned_v<T>)
        return v;
      else
        return v < T(0) ? static_cast<T>(-v) : v;
    } else if constexpr (OP == UnaryOp::Square) {
      return static_cast<T>(v * v);
    } else if constexpr (OP == UnaryOp::Sign) {
      if constexpr (std::is_unsigned_v<T>)
        return static_cast<T>(T(0) < v);
      else
        return static_cast<T>((T(0) < v) - (v < T(0)));
    } else if constexpr (OP == UnaryOp::Exp) {
      return d_exp(v);
    } else if constexpr (OP == UnaryOp::Log) {
      return d_log(v);
    } else if constexpr (OP == UnaryOp::Log1p) {
      return d_log1p(v);
    } else if constexpr (OP == UnaryOp::Expm1) {
      return d_expm1(v);
    } else if constexpr (OP == UnaryOp::Sqrt) {
      return d_sqrt(v);
    } else if constexpr (OP == UnaryOp::Rsqrt) {
      return T(1) / d_sqrt(v);
    } else if constexpr (OP == UnaryOp::Sigmoid) {
      return sigmoid_of(v);
    } else if constexpr (OP == UnaryOp::Tanh) {
      return d_tanh(v);
    } else if constexpr (OP == UnaryOp::Relu) {
      return v > T(0) || v != v ? v : T(0);
    } else if constexpr (OP == UnaryOp::Silu) {
      return v * sigmoid_of(v);
    } else if constexpr (OP == UnaryOp::Softplus) {
      return v > T(kSoftplusThreshold) ? v : d_log1p(d_exp(v));
    } else {
      static_assert(OP == UnaryOp::Gelu, "unhandled unary op");
      return T(0.5) * v * (T(1) + d_erf(v * T(kInvSqrt2)));
    }
  }
};

template <UnaryOp OP, typename T> void run_unary(const Tensor& out, const Tensor& x) {
  launch_map<1, T, T>(unary_name(OP), UnaryF<OP, T>{}, out, x);
}

// Calls body(std::integral_constant<UnaryOp, op>) for the runtime op.
template <typename Body> void with_unary_op(UnaryOp op, Body&& body) {
#define PM_UNARY_CASE(name) \
  case UnaryOp::name: body(std::integral_constant<UnaryOp, UnaryOp::name>{}); break;
  switch (op) {
    PM_UNARY_CASE(Neg) PM_UNARY_CASE(Exp) PM_UNARY_CASE(Log) PM_UNARY_CASE(Log1p) PM_UNARY_CASE(Expm1)
    PM_UNARY_CASE(Sqrt) PM_UNARY_CASE(Rsqrt) PM_UNARY_CASE(Abs) PM_UNARY_CASE(Sigmoid) PM_UNARY_CASE(Tanh)
    PM_UNARY_CASE(Relu) PM_UNARY_CASE(Silu) PM_UNARY_CASE(Softplus) PM_UNARY_CASE(Gelu) PM_UNARY_CASE(Square)
    PM_UNARY_CASE(Sign)
  }
#undef PM_UNARY_CASE
}

// ---- unary backward --------------------------------------------------------------------------------

// grad * f'(.) from the gradient and v, which is x or y = f(x) as the CPU kernel reads it.
template <UnaryOp OP> constexpr bool backward_reads_y() {
  return OP == UnaryOp::Exp || OP == UnaryOp::Expm1 || OP == UnaryOp::Sqrt || OP == UnaryOp::Rsqrt ||
         OP == UnaryOp::Sigmoid || OP == UnaryOp::Tanh;
}

template <UnaryOp OP, typename T> struct UnaryBackwardF {
  __device__ __forceinline__ T operator()(T g, T v) const {
    if constexpr (OP == UnaryOp::Exp) {
      return g * v;
    } else if constexpr (OP == UnaryOp::Log) {
      return g / v;
    } else if constexpr (OP == UnaryOp::Log1p) {
      return g / (T(1) + v);
    } else if constexpr (OP == UnaryOp::Expm1) {
      return g * (v + T(1));
    } else if constexpr (OP == UnaryOp::Sqrt) {
      return g * T(0.5) / v;
    } else if constexpr (OP == UnaryOp::Rsqrt) {
      return g * T(-0.5) * v * v * v;
    } else if constexpr (OP == UnaryOp::Abs) {
      return g * static_cast<T>((T(0) < v) - (v < T(0)));
    } else if constexpr (OP == UnaryOp::Sigmoid) {
      return g * v * (T(1) - v);
    } else if constexpr (OP == UnaryOp::Tanh) {
      return g * (T(1) - v * v);
    } else if constexpr (OP == UnaryOp::Relu) {
      return v > T(0) ? g : T(0);
    } else if constexpr (OP == UnaryOp::Silu) {
      const T s = sigmoid_of(v);  // d/dx x s(x) = s (1 + x (1 - s))
      return g * s * (T(1) + v * (T(1) - s));
    } else if constexpr (OP == UnaryOp::Softplus) {
      return v > T(kSoftplusThreshold) ? g : g * sigmoid_of(v);
    } else if constexpr (OP == UnaryOp::Gelu) {
      const T cdf = T(0.5) * (T(1) + d_erf(v * T(kInvSqrt2)));  // d/dx x Phi(x) = Phi(x) + x phi(x)
      const T pdf = T(kInvSqrt2Pi) * d_exp(T(-0.5) * v * v);
      return g * (cdf + v * pdf);
    } else {
      static_assert(OP == UnaryOp::Square, "unhandled unary backward");
      return T(2) * g * v;
    }
  }
};

template <typename T> struct NegF {
  __device__ __forceinline__ T operator()(T g) const { return -g; }
};
template <typename T> struct ZeroF {
  __device__ __forceinline__ T operator()(T) const { return T(0); }
};

// ---- binary and compare ----------------------------------------------------------------------------

// x^y for integers, exactly: the CPU converts std::pow's double, which is exact for every result a
// double holds, while CUDA's pow may land an ulp below an integer (3^1 -> 2.9999...) and truncate.
// Negative exponents give what the CPU's truncation gives: 1 for 1, +-1 for -1, else 0.
template <typename T> __device__ __forceinline__ T int_pow(T x, T y) {
  if constexpr (std::is_signed_v<T>) {
    if (y < 0) return x == 1 ? T(1) : (x == -1 ? static_cast<T>((y & 1) ? -1 : 1) : T(0));
  }
  uint64_t result = 1, base = static_cast<uint64_t>(static_cast<int64_t>(x));  // wraps like the hardware
  for (uint64_t e = static_cast<uint64_t>(y); e > 0; e >>= 1) {
    if (e & 1) result *= base;
    base *= base;
  }
  return static_cast<T>(result);
}

template <BinaryOp OP, typename T> struct BinaryF {
  __device__ __forceinline__ T operator()(T x, T y) const {
    if constexpr (OP == BinaryOp::Add) {
      return static_cast<T>(x + y);
    } else if constexpr (OP == BinaryOp::Sub) {
      return static_cast<T>(x - y);
    } else if constexpr (OP == BinaryOp::Mul) {
      return static_cast<T>(x * y);
    } else if constexpr (OP == BinaryOp::Div) {
      return static_cast<T>(x / y);  // integer divisors were checked for zeros on the host
    } else if constexpr (OP == BinaryOp::Pow) {
      if constexpr (std::is_integral_v<T>)
        return int_pow(x, y);
      else
        return static_cast<T>(::pow(static_cast<double>(x), static_cast<double>(y)));
    } else if constexpr (OP == BinaryOp::Maximum) {
      return x != x ? x : (y != y ? y : (x > y ? x : y));
    } else {
      static_assert(OP == BinaryOp::Minimum, "unhandled binary op");
      return x != x ? x : (y != y ? y : (x < y ? x : y));
    }
  }
};

template <CompareOp OP, typename T> struct CompareF {
  __device__ __forceinline__ uint8_t operator()(T x, T y) const {
    if constexpr (OP == CompareOp::Eq) {
      return x == y;
    } else if constexpr (OP == CompareOp::Ne) {
      return x != y;
    } else if constexpr (OP == CompareOp::Lt) {
      return x < y;
    } else if constexpr (OP == CompareOp::Le) {
      return x <= y;
    } else if constexpr (OP == CompareOp::Gt) {
      return x > y;
    } else {
      static_assert(OP == CompareOp::Ge, "unhandled comparison");
      return x >= y;
    }
  }
};

template <typename T> struct WhereF {
  __device__ __forceinline__ T operator()(uint8_t c, T x, T y) const { return c ? x : y; }
};

template <typename T> struct AddScaledF {  // d + alpha * s
  T alpha;
  __device__ __forceinline__ T operator()(T d, T s) const { return static_cast<T>(d + alpha * s); }
};
template <typename T> struct AddF {
  __device__ __forceinline__ T operator()(T d, T s) const { return static_cast<T>(d + s); }
};
template <typename T> struct ScaleF {
  T s;
  __device__ __forceinline__ T operator()(T d) const { return static_cast<T>(d * s); }
};

template <typename T> __global__ void any_zero_kernel(uint32_t n, Indexer<1, uint32_t, int32_t> ix, const T* p, int* flag) {
  const uint32_t step = gridDim.x * blockDim.x;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    int32_t off[1];
    ix.get(i, off);
    if (p[off[0]] == T(0)) atomicOr(flag, 1);
  }
}

template <typename T> __global__ void any_zero_kernel64(int64_t n, Indexer<1, int64_t, int64_t> ix, const T* p, int* flag) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[1];
    ix.get(i, off);
    if (p[off[0]] == T(0)) atomicOr(flag, 1);
  }
}

}  // namespace

void unary(UnaryOp op, const Tensor& out, const Tensor& x) {
  const char* name = unary_name(op);
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    with_unary_op(op, [&](auto op_c) {
      constexpr UnaryOp OP = decltype(op_c)::value;
      if constexpr (std::is_floating_point_v<T> || OP == UnaryOp::Neg || OP == UnaryOp::Abs ||
                    OP == UnaryOp::Square || OP == UnaryOp::Sign)
        run_unary<OP, T>(out, x);
    });
  };
  if (is_integer_friendly(op))
    dispatch_all(x.dtype(), name, run);
  else
    dispatch_float(x.dtype(), name, run);
}

void unary_backward(UnaryOp op, const Tensor& out, const Tensor& grad, const Tensor& x, const Tensor& y) {
  const char* name = unary_name(op);
  dispatch_float(x.dtype(), name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    with_unary_op(op, [&](auto op_c) {
      constexpr UnaryOp OP = decltype(op_c)::value;
      if constexpr (OP == UnaryOp::Neg) {
        launch_map<1, T, T>(name, NegF<T>{}, out, grad);
      } else if constexpr (OP == UnaryOp::Sign) {
        launch_map<1, T, T>(name, ZeroF<T>{}, out, grad);
      } else {
        const Tensor& v = backward_reads_y<OP>() ? y : x;
        launch_map<2, T, T, T>(name, UnaryBackwardF<OP, T>{}, out, grad, &v);
      }
    });
  });
}

void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  dispatch_all(a.dtype(), name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (op) {
      case BinaryOp::Add: launch_map<2, T, T, T>(name, BinaryF<BinaryOp::Add, T>{}, out, a, &b); break;
      case BinaryOp::Sub: launch_map<2, T, T, T>(name, BinaryF<BinaryOp::Sub, T>{}, out, a, &b); break;
      case BinaryOp::Mul: launch_map<2, T, T, T>(name, BinaryF<BinaryOp::Mul, T>{}, out, a, &b); break;
      case BinaryOp::Div: launch_map<2, T, T, T>(name, BinaryF<BinaryOp::Div, T>{}, out, a, &b); break;
      case BinaryOp::Pow: launch_map<2, T, T, T>(name, BinaryF<BinaryOp::Pow, T>{}, out, a, &b); break;
      case BinaryOp::Maximum: launch_map<2, T, T, T>(name, BinaryF<BinaryOp::Maximum, T>{}, out, a, &b); break;
      case BinaryOp::Minimum: launch_map<2, T, T, T>(name, BinaryF<BinaryOp::Minimum, T>{}, out, a, &b); break;
    }
  });
}

void compare(CompareOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  dispatch_all(a.dtype(), "compare", [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (op) {
      case CompareOp::Eq: launch_map<2, uint8_t, T, T>("compare", CompareF<CompareOp::Eq, T>{}, out, a, &b); break;
      case CompareOp::Ne: launch_map<2, uint8_t, T, T>("compare", CompareF<CompareOp::Ne, T>{}, out, a, &b); break;
      case CompareOp::Lt: launch_map<2, uint8_t, T, T>("compare", CompareF<CompareOp::Lt, T>{}, out, a, &b); break;
      case CompareOp::Le: launch_map<2, uint8_t, T, T>("compare", CompareF<CompareOp::Le, T>{}, out, a, &b); break;
      case CompareOp::Gt: launch_map<2, uint8_t, T, T>("compare", CompareF<CompareOp::Gt, T>{}, out, a, &b); break;
      case CompareOp::Ge: launch_map<2, uint8_t, T, T>("compare", CompareF<CompareOp::Ge, T>{}, out, a, &b); break;
    }
  });
}

void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  dispatch_all(a.dtype(), "where", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_map<3, T, uint8_t, T, T>("where", WhereF<T>{}, out, cond, &a, &b);
  });
}

void add_(const Tensor& dst, const Tensor& src, double alpha) {
  dispatch_all(dst.dtype(), "add_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (alpha == 1.0)
      launch_map<2, T, T, T>("add_", AddF<T>{}, dst, dst, &src);
    else
      launch_map<2, T, T, T>("add_", AddScaledF<T>{static_cast<T>(alpha)}, dst, dst, &src);
  });
}

void mul_(const Tensor& dst, double s) {
  dispatch_all(dst.dtype(), "mul_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_map<1, T, T>("mul_", ScaleF<T>{static_cast<T>(s)}, dst, dst);
  });
}

bool any_zero(const Tensor& t) {
  const int64_t n = t.numel();
  if (n == 0) return false;
  Tensor flag = Tensor::empty({1}, DType::Int32, t.device());
  int* pf = flag.data<int32_t>();
  PM_CUDA_CHECK(cudaMemsetAsync(pf, 0, sizeof(int), 0));
  const OffsetCalc<1> calc = make_offset_calc<1>(t.shape(), {&t});
  dispatch_all(t.dtype(), "div", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(t.raw_data());
    if (fits_32bit(calc, n))
      any_zero_kernel<T><<<blocks_for(n), kThreads>>>(static_cast<uint32_t>(n), make_indexer<1, uint32_t, int32_t>(calc), p, pf);
    else
      any_zero_kernel64<T><<<blocks_for(n), kThreads>>>(n, make_indexer<1, int64_t, int64_t>(calc), p, pf);
    PM_CUDA_LAUNCH_CHECK("div");
  });
  int found = 0;
  PM_CUDA_CHECK(cudaMemcpy(&found, pf, sizeof(int), cudaMemcpyDeviceToHost));
  return found != 0;
}

}  // namespace tensor::cuda
