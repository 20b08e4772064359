// reduce.h: the CUDA kernels behind tensor/ops/reduce.h. The op functions plan the reduction as on
// the CPU (kept dims flattened into `outer` rows, reduced dims into a contiguous row of R elements,
// or the column layout for leading dims) and call these at the kernel step. All outputs are fresh
// contiguous tensors of `outer` elements (softmax: of the input's [outer, R] shape).
// Accumulation: float32 and float64 sums, means and variances accumulate in double, like the CPU;
// integer sums in int64. Softmax of float32 works in float (exp, sum in a tree order fixed per
// launch shape, so results repeat run to run). Defined only when the CUDA backend is compiled:
// call inside PM_ON_CUDA (tensor/cuda/dispatch.h).
#pragma once
#include "tensor/tensor.h"

namespace tensor::cuda {

// out[r] = scale * sum_i rows[r, i] for a contiguous [outer, R] matrix (any dtype with kernels;
// integer sums ignore scale).
void sum_rows(const Tensor& rows, const Tensor& out, double scale);
// out[c] = scale * sum_r x[r, c] for x contiguous as [R, outer] (float dtypes).
void sum_columns(const Tensor& x, const Tensor& out, int64_t R, int64_t outer, double scale);
// out[r] = sum_i (rows[r, i] - mean_r)^2 / (R - correction), NaN when R - correction <= 0 (floats).
void var_rows(const Tensor& rows, const Tensor& out, int64_t correction);
// Maximum and its first index per row (a NaN wins: the first NaN of the row), any dtype.
void max_rows(const Tensor& rows, const Tensor& values, const Tensor& indices);
// softmax (log = false) or log_softmax (log = true) of each row of contiguous [outer, R] x into y.
void softmax_rows(const Tensor& x, const Tensor& y, int64_t outer, int64_t R, bool log);
// dx from dL/dy and y, per row: y (g - sum(g y)) for softmax, g - exp(y) sum(g) for log_softmax.
void softmax_backward_rows(const Tensor& g, const Tensor& y, const Tensor& dx, int64_t outer, int64_t R, bool log);

}  // namespace tensor::cuda
