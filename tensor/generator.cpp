// generator.cpp: the default generator and the Philox draws, forwarding to the inline functions of
// tensor/philox.h that the CUDA backend shares.
#include "tensor/generator.h"

#include "tensor/philox.h"

namespace tensor {

std::array<uint32_t, 4> philox4x32(uint64_t counter_lo, uint64_t counter_hi, uint64_t key) {
  const philox::Words r = philox::philox4x32_10(counter_lo, counter_hi, key);
  return {r.w[0], r.w[1], r.w[2], r.w[3]};
}

Generator& default_generator() {
  static Generator g;
  return g;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

float philox_uniform_f32(uint64_t key, uint64_t c) { return philox::uniform_f32(key, c); }
double philox_uniform_f64(uint64_t key, uint64_t c) { return philox::uniform_f64(key, c); }
double philox_normal(uint64_t key, uint64_t c) { return philox::normal(key, c); }

}  // namespace tensor
