// scan_math.h: scalar helpers shared by the mamba CPU kernels: a vectorisable exp for float32 (the
// selective scan evaluates exp(delta * A) for every (channel, step, state), which dominates its
// cost), sigmoid, SiLU and softplus with PyTorch's threshold, and a strided sequence accessor.
// Internal to mamba/ops; not part of the public API.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace mamba::detail {

// e^x for float by range reduction: x = k ln2 + r with |r| <= ln2 / 2, e^r by its degree-7 Taylor
// polynomial (truncation error < 1e-8 relative), 2^k assembled in the exponent bits. Relative error
// about one float ulp; inputs are clamped to [-87, 88] so 2^k stays a normal float (e^-87 ~ 1.6e-38
// is as good as 0 for a decay factor). Written without branches so `omp simd` loops vectorise it.
inline float exp_approx(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float k = std::floor(x * 1.44269504088896341f + 0.5f);
  // ln 2 split in two so that k * ln2_hi is exact.
  const float r = (x - k * 0.693359375f) + k * 2.12194440e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}
inline double exp_approx(double x) { return std::exp(x); }

// ln x for a positive normal float, branch-free: x = m 2^e with m in [sqrt(1/2), sqrt(2)), then
// ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172, by its odd series to s^9 (truncation
// error < 1e-9). Relative error about one float ulp.
inline float log_approx(float x) {
  int32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int32_t e = ((bits >> 23) & 0xff) - 127;
  bits = (bits & 0x007fffff) | 0x3f800000;  // mantissa as a float in [1, 2)
  float m;
  std::memcpy(&m, &bits, sizeof m);
  const bool big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e = big ? e + 1 : e;
  const float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
  float p = 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  p = p * s2 + 1.0f;
  return static_cast<float>(e) * 0.693147180559945309f + 2.0f * s * p;
}

// Vectorisable forms of the activations for float (libm calls for double): softplus as
// max(x, 0) + log1p(e^-|x|), where log1p(t) = ln(1 + t) + (t - ((1 + t) - 1)) / (1 + t) recovers
// the bits lost in 1 + t; x itself above the threshold 20, as PyTorch.
inline float softplus_fast(float x) {
  const float t = exp_approx(-std::fabs(x)), u = 1.0f + t;
  const float l1p = log_approx(u) + (t - (u - 1.0f)) / u;
  return x > 20.0f ? x : std::max(x, 0.0f) + l1p;
}
inline double softplus_fast(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }
inline float sigmoid_fast(float x) { return 1.0f / (1.0f + exp_approx(-x)); }
inline double sigmoid_fast(double x) { return 1.0 / (1.0 + std::exp(-x)); }

template <typename T> inline T sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }
template <typename T> inline T silu(T x) { return x * sigmoid(x); }
// d silu / dx = s (1 + x (1 - s)), s = sigmoid(x).
template <typename T> inline T silu_grad(T x) {
  const T s = sigmoid(x);
  return s * (T(1) + x * (T(1) - s));
}
// log(1 + e^x), and x itself above 20 (PyTorch's and mamba_ssm's threshold).
constexpr double kSoftplusThreshold = 20.0;
template <typename T> inline T softplus(T x) { return x > T(kSoftplusThreshold) ? x : std::log1p(std::exp(x)); }
template <typename T> inline T softplus_grad(T x) { return x > T(kSoftplusThreshold) ? T(1) : sigmoid(x); }

// One row of a strided tensor: element t sits at p[t * stride] (stride may be 0 or negative).
template <typename T> struct Seq {
  T* p = nullptr;
  int64_t stride = 0;
  T& operator[](int64_t t) const { return p[t * stride]; }
};

}  // namespace mamba::detail
