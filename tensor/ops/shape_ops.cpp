// shape_ops.cpp: cat (copies each input into its slice of the output), split and chunk (views of
// consecutive pieces), and flip (a copy read through negated strides). The copies go through
// Tensor::copy_, so these work on any device.
#include "tensor/ops/shape_ops.h"

#include <numeric>

namespace tensor {

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) throw std::invalid_argument("cat: expected at least one tensor");
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].defined()) throw std::invalid_argument("cat: tensor " + std::to_string(i) + " is undefined");
    if (xs[i].dim() == 0)
      throw std::invalid_argument("cat: tensor " + std::to_string(i) + " is 0-d and cannot be concatenated");
  }
  const Tensor& first = xs[0];
  dim = wrap_dim(dim, first.dim(), "cat");
  int64_t total = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    check_same_dtype("cat", first, x);
    check_same_device("cat", first, x);
    bool ok = x.dim() == first.dim();
    for (int64_t d = 0; ok && d < x.dim(); ++d) ok = d == dim || x.size(d) == first.size(d);
    if (!ok)
      throw std::invalid_argument("cat: tensor " + std::to_string(i) + " has shape " + shape_str(x.shape()) +
                                  " but tensor 0 has shape " + shape_str(first.shape()) +
                                  "; sizes must match except in dim " + std::to_string(dim));
    total += x.size(dim);
  }
  Shape out_shape = first.shape();
  out_shape[dim] = total;
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  int64_t at = 0;
  for (const Tensor& x : xs) {
    if (x.size(dim) > 0) out.narrow(dim, at, x.size(dim)).copy_(x);
    at += x.size(dim);
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  check_defined("split", x);
  dim = wrap_dim(dim, x.dim(), "split");
  if (x.dim() == 0) throw std::invalid_argument("split: cannot split a 0-d tensor");
  int64_t sum = 0;
  for (int64_t s : sizes) {
    if (s < 0) throw std::invalid_argument("split: negative size in sizes " + shape_str(sizes));
    sum += s;
  }
  if (sum != x.size(dim))
    throw std::invalid_argument("split: sizes " + shape_str(sizes) + " sum to " + std::to_string(sum) + " but dim " +
                                std::to_string(dim) + " of shape " + shape_str(x.shape()) + " has size " +
                                std::to_string(x.size(dim)));
  std::vector<Tensor> out;
  out.reserve(sizes.size());
  int64_t at = 0;
  for (int64_t s : sizes) {
    out.push_back(x.narrow(dim, at, s));
    at += s;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t dim) {
  check_defined("split", x);
  dim = wrap_dim(dim, x.dim(), "split");
  if (x.dim() == 0) throw std::invalid_argument("split: cannot split a 0-d tensor");
  if (size <= 0) throw std::invalid_argument("split: split size must be positive, got " + std::to_string(size));
  const int64_t n = x.size(dim);
  std::vector<int64_t> sizes;
  for (int64_t at = 0; at < n; at += size) sizes.push_back(std::min(size, n - at));
  if (sizes.empty()) sizes.push_back(0);  // an empty dim gives one empty piece, as torch
  return split(x, sizes, dim);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  check_defined("chunk", x);
  if (chunks <= 0) throw std::invalid_argument("chunk: number of chunks must be positive, got " + std::to_string(chunks));
  dim = wrap_dim(dim, x.dim(), "chunk");
  if (x.dim() == 0) throw std::invalid_argument("chunk: cannot chunk a 0-d tensor");
  // torch semantics: pieces of ceil(n / chunks), so fewer than `chunks` pieces may come back.
  const int64_t n = x.size(dim);
  return split(x, std::max<int64_t>(1, (n + chunks - 1) / chunks), dim);
}

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  check_defined("flip", x);
  Shape shape = x.shape();
  Strides strides = x.strides();
  int64_t offset = x.offset();
  std::vector<bool> seen(std::max<int64_t>(x.dim(), 1), false);
  for (int64_t d0 : dims) {
    int64_t d = wrap_dim(d0, x.dim(), "flip");
    if (seen[d]) throw std::invalid_argument("flip: dim " + std::to_string(d) + " appears more than once in " + shape_str(dims));
    seen[d] = true;
    if (x.dim() == 0) continue;
    // Start at the last element along d and step backwards.
    if (shape[d] > 0) offset += (shape[d] - 1) * strides[d];
    strides[d] = -strides[d];
  }
  if (x.numel() == 0) return x.clone();
  Tensor reversed(x.storage(), shape, strides, offset, x.dtype());
  return reversed.clone();
}

}  // namespace tensor
