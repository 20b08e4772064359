// reduce.h: reductions over any set of dims (sum, mean, var, max/argmax), softmax and log_softmax.
// `dims` empty means every dim. keepdim keeps reduced dims as size 1.
#pragma once
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace tensor {

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Variance with Bessel-style `correction` (1 = unbiased, 0 = population), like torch.var.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false);
// Values and int64 indices of the maximum along `dim` (first occurrence wins on ties).
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max_all(const Tensor& x);  // 0-d
// Sums a broadcast result back to `shape` (the gradient rule of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// Given y = softmax(x) (or log_softmax) and dL/dy, returns dL/dx.
Tensor softmax_backward(const Tensor& grad, const Tensor& y, int64_t dim);
Tensor log_softmax_backward(const Tensor& grad, const Tensor& y, int64_t dim);

}  // namespace tensor
