// row_group.cuh: device helpers for kernels that give each row of a [rows, D] tensor to a group of
// threads, either one warp (short rows: several rows per block, warp-shuffle reductions only) or a
// whole block (long rows: shuffles, then one value per warp through shared memory). Rows are
// walked grid-stride, so a grid sized to fill the GPU covers any number of rows. Loads of V
// consecutive elements become one 16-byte access when V > 1 (the caller checks alignment).
// Reductions run in a fixed order, so results never depend on timing.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/cuda/kernel_utils.cuh"

namespace tensor::cuda {

template <bool kWarp> struct RowGroup {
  int lane;          // this thread's index in its group
  int size;          // threads per group
  int64_t first;     // the group's first row
  int64_t step;      // rows between one visit of the group and the next

  __device__ __forceinline__ RowGroup() {
    if constexpr (kWarp) {
      const int warps = blockDim.x / 32;
      lane = threadIdx.x % 32;
      size = 32;
      first = static_cast<int64_t>(blockIdx.x) * warps + threadIdx.x / 32;
      step = static_cast<int64_t>(gridDim.x) * warps;
    } else {
      lane = threadIdx.x;
      size = blockDim.x;
      first = blockIdx.x;
      step = gridDim.x;
    }
  }

  // Every thread of the group gets the group's sum. `scratch`: 32 values of shared memory.
  template <typename A> __device__ __forceinline__ A sum(A v, A* scratch) const {
    if constexpr (kWarp)
      return warp_allreduce(v, SumOp{});
    else
      return block_allreduce(v, SumOp{}, scratch);
  }
};

// V consecutive elements from p (one 16-byte access when V > 1; p must then be 16-byte aligned).
template <typename T, int V> __device__ __forceinline__ Vec<T, V> load_vec(const T* p) {
  if constexpr (V == 1) {
    Vec<T, 1> r;
    r.v[0] = *p;
    return r;
  } else {
    return *reinterpret_cast<const Vec<T, V>*>(p);
  }
}

template <typename T, int V> __device__ __forceinline__ void store_vec(T* p, const Vec<T, V>& r) {
  if constexpr (V == 1)
    *p = r.v[0];
  else
    *reinterpret_cast<Vec<T, V>*>(p) = r;
}

// The same with the streaming cache hint (evict first): for data touched for the last time, so
// that it does not push data still to be reused out of L2.
template <typename T, int V> __device__ __forceinline__ Vec<T, V> load_vec_last(const T* p) {
  Vec<T, V> r;
  if constexpr (V == 1)
    r.v[0] = __ldcs(p);
  else
    *reinterpret_cast<float4*>(&r) = __ldcs(reinterpret_cast<const float4*>(p));
  return r;
}

template <typename T, int V> __device__ __forceinline__ void store_vec_last(T* p, const Vec<T, V>& r) {
  if constexpr (V == 1)
    __stcs(p, r.v[0]);
  else
    __stcs(reinterpret_cast<float4*>(p), *reinterpret_cast<const float4*>(&r));
}

}  // namespace tensor::cuda
