// generator.h: a seedable random generator built on the Philox4x32-10 counter-based generator.
// Element i of a draw depends only on (seed, offset + i), so a stream is the same across runs,
// thread counts and devices (the CUDA backend draws through the same functions, tensor/philox.h).
// A draw of n elements advances the offset by n.
#pragma once
#include <array>
#include <cstdint>

namespace tensor {

// Philox4x32 with 10 rounds: 4 random 32-bit words from a 128-bit counter and a 64-bit key.
std::array<uint32_t, 4> philox4x32(uint64_t counter_lo, uint64_t counter_hi, uint64_t key);

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) : seed_(seed) {}
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t o) { offset_ = o; }
  // Reserves n consecutive counters and returns the first.
  uint64_t advance(uint64_t n) {
    uint64_t o = offset_;
    offset_ += n;
    return o;
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide default generator used when an op is given none.
Generator& default_generator();
void manual_seed(uint64_t seed);

// Uniform in [0, 1) with 24 (float) or 53 (double) random bits, from counter `c` of stream `key`.
float philox_uniform_f32(uint64_t key, uint64_t c);
double philox_uniform_f64(uint64_t key, uint64_t c);
// Standard normal by Box-Muller from counter `c`.
double philox_normal(uint64_t key, uint64_t c);

}  // namespace tensor
