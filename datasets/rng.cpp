// rng.cpp: Rng draws (Philox blocks of four 32-bit words, consumed in order).
#include "datasets/rng.h"

#include <stdexcept>
#include <string>

#include "tensor/generator.h"

namespace datasets {

uint64_t mix64(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint32_t Rng::next_u32() {
  if (left_ == 0) {
    buf_ = tensor::philox4x32(counter_++, stream_, key_);
    left_ = 4;
  }
  return buf_[4 - left_--];
}

double Rng::uniform() {
  const uint64_t hi = next_u32() >> 5, lo = next_u32() >> 6;  // 27 + 26 bits
  return (static_cast<double>(hi) * 67108864.0 + static_cast<double>(lo)) * (1.0 / 9007199254740992.0);
}

double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

int64_t Rng::randint(int64_t lo, int64_t hi) {
  if (hi <= lo) throw std::invalid_argument("Rng::randint: empty range [" + std::to_string(lo) + ", " + std::to_string(hi) + ")");
  const uint64_t range = static_cast<uint64_t>(hi - lo);
  // Rejection keeps it unbiased: accept x below the largest multiple of range.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t x;
  do {
    x = (static_cast<uint64_t>(next_u32()) << 32) | next_u32();
  } while (x >= limit);
  return lo + static_cast<int64_t>(x % range);
}

}  // namespace datasets
