// philox.h: the Philox4x32-10 counter-based generator and the draws built on it (uniform float32 and
// float64, standard normal), as inline functions that compile for the host and, under nvcc, for CUDA
// devices too. The CPU (tensor/generator.cpp, tensor/ops/creation.cpp) and the CUDA backend
// (tensor/cuda/random.cu) both call these, so a stream is the same on every device. Only integer
// arithmetic and exactly rounded operations decide a uniform draw; a normal draw also goes through
// log and cos, whose last bit may differ between the host's libm and CUDA's.
#pragma once
#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define PM_HOST_DEVICE __host__ __device__
#else
#define PM_HOST_DEVICE
#endif

namespace tensor::philox {

struct Words {
  uint32_t w[4];
};

// Philox4x32 with 10 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", 2011):
// 4 random 32-bit words from a 128-bit counter and a 64-bit key.
PM_HOST_DEVICE inline Words philox4x32_10(uint64_t counter_lo, uint64_t counter_hi, uint64_t key) {
  const uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
  const uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // key schedule (golden ratio, sqrt(3)-1)
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c0, p1 = static_cast<uint64_t>(kM1) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return Words{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with 24 random bits, from counter `c` of stream `key`.
PM_HOST_DEVICE inline float uniform_f32(uint64_t key, uint64_t c) {
  return static_cast<float>(philox4x32_10(c, 0, key).w[0] >> 8) * (1.0f / 16777216.0f);
}

// Uniform in [0, 1) with 53 random bits.
PM_HOST_DEVICE inline double uniform_f64(uint64_t key, uint64_t c) {
  const Words r = philox4x32_10(c, 0, key);
  const uint64_t bits = (static_cast<uint64_t>(r.w[0]) << 21) ^ (r.w[1] >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// Standard normal by Box-Muller: u1 in (0, 1] so log(u1) is finite, u2 in [0, 1).
PM_HOST_DEVICE inline double normal(uint64_t key, uint64_t c) {
  const Words r = philox4x32_10(c, 0, key);
  const double u1 = (static_cast<double>(r.w[0]) + 1.0) * (1.0 / 4294967296.0);
  const double u2 = static_cast<double>(r.w[1]) * (1.0 / 4294967296.0);
  return ::sqrt(-2.0 * ::log(u1)) * ::cos(6.283185307179586 * u2);
}

// a * b + c with one rounding on every device. The draws scale with it (low + (high - low) * u):
// written as a plain expression, a compiler may or may not fuse it, and the last bit would then
// depend on the compiler.
PM_HOST_DEVICE inline double fused_mul_add(double a, double b, double c) { return ::fma(a, b, c); }

}  // namespace tensor::philox
