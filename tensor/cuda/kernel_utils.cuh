// kernel_utils.cuh: device-side helpers shared by the CUDA kernel files: aligned vectors for 16-byte
// loads, strided indexers with 32- or 64-bit index math, float/double overloads of the math
// functions, warp and block reductions, and the device's multiprocessor count.
// (In namespace tensor the names exp, log, ... are tensor ops; device math here is always ::qualified.)
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <limits>

#include "tensor/cuda/launch.cuh"

namespace tensor::cuda {

// ---- vectors ---------------------------------------------------------------------------------------

// N elements loaded or stored as one access (16 bytes for float4 / double2).
template <typename T, int N> struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

// Elements per 16-byte access for operands of types Ts (the widest type decides).
template <typename... Ts> constexpr int vec_width() {
  size_t widest = 1;
  ((widest = sizeof(Ts) > widest ? sizeof(Ts) : widest), ...);
  return static_cast<int>(16 / widest);
}

inline bool is_aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// ---- strided indexing ------------------------------------------------------------------------------

// Maps a linear index of the iteration shape to an element offset per operand. I is the index
// type (uint32_t or int64_t), O the offset type (int32_t or int64_t); 32-bit division is several
// times cheaper than 64-bit on the GPU, so the 32-bit form is used whenever everything fits.
// Dims are stored innermost first and walked by a fully unrolled loop, so the arrays (a kernel
// parameter) are only read at constant positions and never copied to local memory.
template <int N, typename I, typename O> struct Indexer {
  int ndim;
  I sizes[kMaxDims];        // innermost first
  O strides[N][kMaxDims];   // elements, innermost first

  __device__ __forceinline__ void get(I linear, O (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    if (ndim == 0) return;
#pragma unroll
    for (int j = 0; j < kMaxDims; ++j) {
      if (j == ndim - 1) {  // the outermost dim needs no modulo: linear < its size here
#pragma unroll
        for (int k = 0; k < N; ++k) off[k] += static_cast<O>(linear) * strides[k][j];
        break;
      }
      const I i = linear % sizes[j];
      linear /= sizes[j];
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += static_cast<O>(i) * strides[k][j];
    }
  }
};

// True when n elements and every operand's reachable offsets fit in 32 bits.
template <int N> bool fits_32bit(const OffsetCalc<N>& c, int64_t n) {
  const int64_t lim = std::numeric_limits<int32_t>::max();
  if (n > lim) return false;
  for (int k = 0; k < N; ++k) {
    int64_t span = 0;
    for (int d = 0; d < c.ndim; ++d) span += (c.strides[k][d] < 0 ? -c.strides[k][d] : c.strides[k][d]) * (c.sizes[d] - 1);
    if (span > lim) return false;
  }
  return true;
}

template <int N, typename I, typename O> Indexer<N, I, O> make_indexer(const OffsetCalc<N>& c) {
  Indexer<N, I, O> ix{};
  ix.ndim = c.ndim;
  for (int d = 0; d < c.ndim; ++d) {  // OffsetCalc is outermost first; the Indexer innermost first
    const int j = c.ndim - 1 - d;
    ix.sizes[j] = static_cast<I>(c.sizes[d]);
    for (int k = 0; k < N; ++k) ix.strides[k][j] = static_cast<O>(c.strides[k][d]);
  }
  return ix;
}

// ---- math overloads --------------------------------------------------------------------------------

__device__ __forceinline__ float d_exp(float x) { return ::expf(x); }
__device__ __forceinline__ double d_exp(double x) { return ::exp(x); }
__device__ __forceinline__ float d_log(float x) { return ::logf(x); }
__device__ __forceinline__ double d_log(double x) { return ::log(x); }
__device__ __forceinline__ float d_log1p(float x) { return ::log1pf(x); }
__device__ __forceinline__ double d_log1p(double x) { return ::log1p(x); }
__device__ __forceinline__ float d_expm1(float x) { return ::expm1f(x); }
__device__ __forceinline__ double d_expm1(double x) { return ::expm1(x); }
__device__ __forceinline__ float d_sqrt(float x) { return ::sqrtf(x); }
__device__ __forceinline__ double d_sqrt(double x) { return ::sqrt(x); }
__device__ __forceinline__ float d_tanh(float x) { return ::tanhf(x); }
__device__ __forceinline__ double d_tanh(double x) { return ::tanh(x); }
__device__ __forceinline__ float d_erf(float x) { return ::erff(x); }
__device__ __forceinline__ double d_erf(double x) { return ::erf(x); }

template <typename T> __device__ __forceinline__ T neg_infinity() { return -std::numeric_limits<T>::infinity(); }

// ---- warp and block reductions ---------------------------------------------------------------------

constexpr unsigned kFullMask = 0xffffffffu;

template <typename T> __device__ __forceinline__ T shfl_xor(T v, int lane_mask) {
  if constexpr (sizeof(T) < sizeof(int))
    return static_cast<T>(__shfl_xor_sync(kFullMask, static_cast<int>(v), lane_mask));
  else
    return __shfl_xor_sync(kFullMask, v, lane_mask);
}

// Every lane gets op over the warp's 32 values (butterfly order, the same on every run).
template <typename T, typename Op> __device__ __forceinline__ T warp_allreduce(T v, Op op) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) v = op(v, shfl_xor(v, m));
  return v;
}

// Every thread of the block gets op over the block's values. `scratch` holds 32 values in shared
// memory; the function may be called again with the same scratch right away.
template <typename T, typename Op> __device__ __forceinline__ T block_allreduce(T v, Op op, T* scratch) {
  v = warp_allreduce(v, op);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nwarps = (blockDim.x + 31) / 32;
  __syncthreads();  // an earlier call's readers are done with scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T r = scratch[0];
  for (int w = 1; w < nwarps; ++w) r = op(r, scratch[w]);
  return r;
}

struct SumOp {
  template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
// max as std::max(a, b) = (a < b) ? b : a, the CPU's rule (a NaN in b is skipped).
struct MaxOp {
  template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a < b ? b : a; }
};

// ---- device properties -----------------------------------------------------------------------------

// Multiprocessors of the current device (read once).
int num_sms();
// The largest dynamic shared memory a block may opt in to (read once).
size_t max_shared_optin();

}  // namespace tensor::cuda
