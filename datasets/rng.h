// rng.h: Rng, the small counter-based random stream that shuffling and augmentation draw from.
// Built on the tensor library's Philox4x32-10: draw k of stream s under key K is a pure function
// of (K, s, k), so what an example gets depends only on (seed, epoch, example index), never on
// which loader thread made it or in which order.
#pragma once
#include <array>
#include <cstdint>

namespace datasets {

// splitmix64 finaliser over a and b: a well-mixed 64-bit key from two numbers.
uint64_t mix64(uint64_t a, uint64_t b);

class Rng {
 public:
  Rng(uint64_t key, uint64_t stream) : key_(key), stream_(stream) {}
  // The stream of example `index` in epoch `epoch` under `seed`.
  static Rng for_example(uint64_t seed, uint64_t epoch, int64_t index) {
    return Rng(mix64(seed, epoch), static_cast<uint64_t>(index));
  }
  uint32_t next_u32();
  double uniform();                            // [0, 1), 53 random bits
  double uniform(double lo, double hi);        // [lo, hi)
  int64_t randint(int64_t lo, int64_t hi);     // [lo, hi); needs lo < hi
  bool bernoulli(double p) { return uniform() < p; }

 private:
  uint64_t key_, stream_, counter_ = 0;
  std::array<uint32_t, 4> buf_{};
  int left_ = 0;
};

}  // namespace datasets
