// simd.h: 64-byte vectors of 16 float or 8 double lanes through the GCC / Clang vector extensions,
// with the elementwise math the mamba CPU kernels need (exp, softplus, sigmoid). The selective scan
// runs W channels at once in these vectors, so its inner loops are explicit vector code rather than
// loops left to the auto-vectoriser (which does not vectorise the exp polynomial reliably).
// float lanes use branch-free polynomial approximations (about one ulp); double lanes call libm per
// lane, so float64 results match the composite oracle to rounding. Internal to mamba/ops.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace mamba::detail {

template <typename T> struct simd;
template <> struct simd<float> {
  typedef float vec __attribute__((vector_size(64)));
  typedef int32_t ivec __attribute__((vector_size(64)));
  static constexpr int64_t lanes = 16;
};
template <> struct simd<double> {
  typedef double vec __attribute__((vector_size(64)));
  typedef int64_t ivec __attribute__((vector_size(64)));
  static constexpr int64_t lanes = 8;
};
template <typename T> using vec_t = typename simd<T>::vec;
template <typename T> constexpr int64_t kLanes = simd<T>::lanes;

template <typename T> inline vec_t<T> vload(const T* p) {
  vec_t<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T> inline void vstore(T* p, vec_t<T> v) { std::memcpy(p, &v, sizeof v); }
template <typename T> inline vec_t<T> vsplat(T x) { return vec_t<T>{} + x; }

// e^x, 16 float lanes: x = k ln2 + r (k rounded to nearest by the 1.5 * 2^23 trick, |r| <= ln2 / 2),
// e^r by its degree-7 Taylor polynomial, 2^k assembled in the exponent bits; x clamped to [-87, 88].
inline simd<float>::vec vexp(simd<float>::vec x) {
  using V = simd<float>::vec;
  using I = simd<float>::ivec;
  x = x < -87.0f ? vsplat(-87.0f) : x;
  x = x > 88.0f ? vsplat(88.0f) : x;
  const V k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const V r = (x - k * 0.693359375f) + k * 2.12194440e-4f;  // ln 2 in two parts
  V p = vsplat(1.0f / 5040.0f);
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const I bits = (__builtin_convertvector(k, I) + 127) << 23;
  return p * (V)bits;
}
inline simd<double>::vec vexp(simd<double>::vec x) {
  for (int64_t i = 0; i < kLanes<double>; ++i) x[i] = std::exp(x[i]);
  return x;
}

// ln x for positive normal floats: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s),
// s = (m - 1) / (m + 1), |s| <= 0.172, by its odd series to s^9 (truncation error < 1e-9).
inline simd<float>::vec vlog(simd<float>::vec x) {
  using V = simd<float>::vec;
  using I = simd<float>::ivec;
  const I bits = (I)x;
  I e = ((bits >> 23) & 0xff) - 127;
  const I mbits = (bits & 0x007fffff) | 0x3f800000;
  V m = (V)mbits;  // in [1, 2)
  const I big = m > 1.41421356f;           // -1 where true
  m = big ? m * 0.5f : m;
  e = e - big;
  const V s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
  V p = vsplat(1.0f / 9.0f);
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  p = p * s2 + 1.0f;
  return __builtin_convertvector(e, V) * 0.693147180559945309f + 2.0f * s * p;
}

// softplus(x) = log(1 + e^x), x itself above 20 (PyTorch's threshold). float lanes use
// max(x, 0) + log1p(e^-|x|) with log1p(t) = ln(1 + t) + (t - ((1 + t) - 1)) / (1 + t).
inline simd<float>::vec vsoftplus(simd<float>::vec x) {
  using V = simd<float>::vec;
  const V ax = x < 0.0f ? -x : x;
  const V t = vexp(-ax), u = 1.0f + t;
  const V l1p = vlog(u) + (t - (u - 1.0f)) / u;
  const V pos = x > 0.0f ? x : vsplat(0.0f);
  return x > 20.0f ? x : pos + l1p;
}
inline simd<double>::vec vsoftplus(simd<double>::vec x) {
  for (int64_t i = 0; i < kLanes<double>; ++i) x[i] = x[i] > 20.0 ? x[i] : std::log1p(std::exp(x[i]));
  return x;
}

template <typename V> using lane_t = std::decay_t<decltype(V{}[0])>;
template <typename V> inline V vsigmoid(V x) {
  using E = lane_t<V>;
  return E(1) / (E(1) + vexp(-x));
}
// d softplus / dx: sigmoid(x), and 1 above the threshold.
template <typename V> inline V vsoftplus_grad(V x) {
  using E = lane_t<V>;
  return x > E(20) ? vsplat(E(1)) : vsigmoid(x);
}

}  // namespace mamba::detail
