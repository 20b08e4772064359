// loops.h: the CPU's strided iteration engine. Every elementwise kernel runs through
// `for_each_row`: it coalesces the operands' dimensions (dropping size-1 dims, merging dims that
// are contiguous in every operand), then calls `row(ptrs, strides, n)` once per innermost run, in
// parallel over runs with OpenMP when the work is large enough. Strides are in bytes here so that
// operands of different dtypes (a cast, a uint8 mask) share one loop.
#pragma once
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace tensor::cpu {

// Elementwise work below this many elements runs on one thread: waking the OpenMP workers costs
// more. Measured on 2 cores (docs/PERFORMANCE.md, "CPU threads"): 32768 made the programs' sleeping
// workers (OMP_WAIT_POLICY=PASSIVE) slower than one thread; 262144 is the fastest of 32k/256k/1M
// with sleeping and with spinning workers alike.
constexpr int64_t kParallelGrain = 262144;

template <size_t N> struct Operands {
  std::array<char*, N> base{};
  std::array<std::vector<int64_t>, N> strides;  // bytes, one per dimension of the iteration shape
};

// An operand's strides for iterating over `shape` (which `t` broadcasts to): 0 where broadcast.
inline std::vector<int64_t> broadcast_byte_strides(const Tensor& t, const Shape& shape) {
  std::vector<int64_t> out(shape.size(), 0);
  int64_t lead = static_cast<int64_t>(shape.size()) - t.dim();
  for (int64_t i = 0; i < t.dim(); ++i)
    out[lead + i] = t.size(i) == 1 ? 0 : t.stride(i) * static_cast<int64_t>(t.element_size());
  return out;
}

// row(std::array<char*, N> ptrs, const std::array<int64_t, N>& byte_strides, int64_t n)
// `cost_per_element` scales the work estimate that decides on threading, for rows whose elements
// each do more than one step (e.g. index_add walks all indices per element).
template <size_t N, typename Row>
void for_each_row(const Shape& shape_in, const Operands<N>& ops, Row&& row, int64_t cost_per_element = 1) {
  // 1. coalesce: drop size-1 dims, merge neighbours that are contiguous for every operand.
  Shape shape;
  std::array<std::vector<int64_t>, N> st;
  for (size_t d = 0; d < shape_in.size(); ++d) {
    if (shape_in[d] == 0) return;
    if (shape_in[d] == 1) continue;
    bool merge = !shape.empty();
    for (size_t k = 0; k < N && merge; ++k) merge = st[k].back() == ops.strides[k][d] * shape_in[d];
    if (merge) {
      shape.back() *= shape_in[d];
      for (size_t k = 0; k < N; ++k) st[k].back() = ops.strides[k][d];
    } else {
      shape.push_back(shape_in[d]);
      for (size_t k = 0; k < N; ++k) st[k].push_back(ops.strides[k][d]);
    }
  }
  if (shape.empty()) {  // a single element
    std::array<int64_t, N> zero{};
    row(ops.base, zero, 1);
    return;
  }
  const int64_t nd = static_cast<int64_t>(shape.size());
  const int64_t inner = shape.back();
  std::array<int64_t, N> inner_st;
  for (size_t k = 0; k < N; ++k) inner_st[k] = st[k].back();
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < nd; ++d) rows *= shape[d];

  auto run_rows = [&](int64_t r0, int64_t r1) {
    // unravel r0 once, then step the outer index like an odometer
    std::vector<int64_t> idx(nd > 1 ? nd - 1 : 0, 0);
    int64_t rem = r0;
    for (int64_t d = nd - 2; d >= 0; --d) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    std::array<char*, N> p;
    for (size_t k = 0; k < N; ++k) {
      p[k] = ops.base[k];
      for (int64_t d = 0; d + 1 < nd; ++d) p[k] += idx[d] * st[k][d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      row(p, inner_st, inner);
      for (int64_t d = nd - 2; d >= 0; --d) {
        if (++idx[d] < shape[d]) {
          for (size_t k = 0; k < N; ++k) p[k] += st[k][d];
          break;
        }
        idx[d] = 0;
        for (size_t k = 0; k < N; ++k) p[k] -= (shape[d] - 1) * st[k][d];
      }
    }
  };

  const int64_t total = rows * inner * std::max<int64_t>(cost_per_element, 1);
  if (total < kParallelGrain || rows == 1 || omp_get_max_threads() == 1 || omp_in_parallel()) {
    if (rows == 1 && total >= kParallelGrain && !omp_in_parallel() && omp_get_max_threads() > 1) {
      // one long row: split it into chunks across threads
#pragma omp parallel
      {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int64_t chunk = (inner + nt - 1) / nt, s = t * chunk, e = std::min(inner, s + chunk);
        if (s < e) {
          std::array<char*, N> p;
          for (size_t k = 0; k < N; ++k) p[k] = ops.base[k] + s * inner_st[k];
          row(p, inner_st, e - s);
        }
      }
      return;
    }
    run_rows(0, rows);
    return;
  }
#pragma omp parallel
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t chunk = (rows + nt - 1) / nt, s = t * chunk, e = std::min(rows, s + chunk);
    if (s < e) run_rows(s, e);
  }
}

// Runs body(i0, i1) over [0, n) split across threads when n * cost_per_item is large.
template <typename Body> void parallel_for(int64_t n, int64_t cost_per_item, Body&& body) {
  if (n <= 1 || n * cost_per_item < kParallelGrain || omp_get_max_threads() == 1 || omp_in_parallel()) {
    if (n > 0) body(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t chunk = (n + nt - 1) / nt, s = t * chunk, e = std::min(n, s + chunk);
    if (s < e) body(s, e);
  }
}

}  // namespace tensor::cpu
