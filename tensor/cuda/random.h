// random.h: the CUDA side of tensor::rand / randn / randint. Element i of a draw uses counter
// (base + i) of stream `key`, through the same Philox functions as the CPU (tensor/philox.h), so a
// generator state gives the same tensor on either device: bitwise for uniform draws and randint,
// up to the last bit of log/cos for normal draws. The caller reserves the counters
// (Generator::advance) and passes a fresh contiguous tensor on the GPU.
// Defined only when the CUDA backend is compiled: call inside PM_ON_CUDA (tensor/cuda/dispatch.h).
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace tensor::cuda {

// low + (high - low) * u, u uniform in [0, 1) (24 random bits for float32, 53 for float64).
void fill_uniform(const Tensor& out, uint64_t key, uint64_t base, double low, double high);
// mean + std * z, z standard normal (Box-Muller in double, then converted).
void fill_normal(const Tensor& out, uint64_t key, uint64_t base, double mean, double std);
// int64 uniform in [low, high): low + floor(u * (high - low)) from a float64 uniform u.
void fill_randint(const Tensor& out, uint64_t key, uint64_t base, int64_t low, int64_t high);

}  // namespace tensor::cuda
