// launch.cuh: what every CUDA kernel file shares: launch geometry, and OffsetCalc, which maps a
// linear element index of an output shape to element offsets in each operand (strides 0 where an
// operand broadcasts). Dims are coalesced on the host first, exactly as the CPU loop engine does,
// so a contiguous or simply strided operand costs one division per element at most.
#pragma once
#include <cuda_runtime.h>

#include <array>
#include <stdexcept>

#include "tensor/cuda/cuda_check.h"
#include "tensor/tensor.h"

namespace tensor::cuda {

constexpr int kMaxDims = 10;
constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n items: enough to fill the GPU, no more.
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  const int64_t cap = 65535;  // a grid-stride loop covers what lies beyond
  return static_cast<unsigned>(b < 1 ? 1 : (b > cap ? cap : b));
}

template <int N> struct OffsetCalc {
  int ndim;
  int64_t sizes[kMaxDims];         // innermost last
  int64_t strides[N][kMaxDims];    // elements

  __device__ __forceinline__ void get(int64_t linear, int64_t (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t i = linear % sizes[d];
      linear /= sizes[d];
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += i * strides[k][d];
    }
  }
};

// Operand k's element strides over `shape` (which it broadcasts to).
inline Strides broadcast_strides(const Tensor& t, const Shape& shape) {
  Strides out(shape.size(), 0);
  const int64_t lead = static_cast<int64_t>(shape.size()) - t.dim();
  for (int64_t i = 0; i < t.dim(); ++i) out[lead + i] = t.size(i) == 1 ? 0 : t.stride(i);
  return out;
}

// Builds the offset calculator for operands iterated over `shape`, coalescing dims.
template <int N> OffsetCalc<N> make_offset_calc(const Shape& shape, const std::array<const Tensor*, N>& ops) {
  std::array<Strides, N> in;
  for (int k = 0; k < N; ++k) in[k] = broadcast_strides(*ops[k], shape);
  OffsetCalc<N> c{};
  c.ndim = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = c.ndim > 0;
    for (int k = 0; k < N && merge; ++k) merge = c.strides[k][c.ndim - 1] == in[k][d] * shape[d];
    if (merge) {
      c.sizes[c.ndim - 1] *= shape[d];
      for (int k = 0; k < N; ++k) c.strides[k][c.ndim - 1] = in[k][d];
    } else {
      if (c.ndim == kMaxDims) throw std::invalid_argument("cuda: tensors of more than 10 non-mergeable dims");
      c.sizes[c.ndim] = shape[d];
      for (int k = 0; k < N; ++k) c.strides[k][c.ndim] = in[k][d];
      ++c.ndim;
    }
  }
  return c;
}

// True when every operand is contiguous with the output's shape (no broadcasting): the fast path.
template <int N> bool all_contiguous_same(const Shape& shape, const std::array<const Tensor*, N>& ops) {
  for (int k = 0; k < N; ++k)
    if (ops[k]->shape() != shape || !ops[k]->is_contiguous()) return false;
  return true;
}

}  // namespace tensor::cuda
