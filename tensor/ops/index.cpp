// index.cpp: integer indexing on the CPU: index_select, gather, scatter_add, index_add and the
// embedding lookup with its backward. Every index is bounds-checked before any kernel runs, and the
// error names the op, the bad value and the valid range. Strided inputs and indices are read through
// their strides (or made contiguous first where the kernel copies whole slices). CUDA tensors go to
// tensor/cuda/index.h after the same argument checks; their indices are checked on the device and
// a bad one throws the same message.
#include "tensor/ops/index.h"

#include <algorithm>
#include <cstring>

#include "tensor/cpu/loops.h"
#include "tensor/cuda/dispatch.h"
#include "tensor/cuda/index.h"
#include "tensor/ops/creation.h"

namespace tensor {
namespace {

// The index tensor: defined, int64, on the device of `data` (the tensor it indexes into).
void check_index_tensor(const char* op, const Tensor& idx, const Tensor& data) {
  check_defined(op, idx, "index");
  if (idx.dtype() != DType::Int64)
    throw std::invalid_argument(std::string(op) + ": index tensor must be int64, got " + dtype_name(idx.dtype()) + " " +
                                shape_str(idx.shape()));
  check_same_device(op, data, idx);
}

[[noreturn]] void throw_out_of_range(const char* op, int64_t value, int64_t limit, const std::string& what) {
  throw std::out_of_range(std::string(op) + ": index " + std::to_string(value) + " out of range [0, " +
                          std::to_string(limit) + ") for " + what);
}

// Throws std::out_of_range naming the first index outside [0, limit); `what` says what it indexes.
// CUDA indices are checked on the device (one small copy back, see tensor/cuda/index.h).
void check_bounds(const char* op, const Tensor& idx, int64_t limit, const std::string& what) {
  PM_ON_CUDA(idx, const cuda::IndexCheck bad = cuda::check_indices(idx, limit);
             if (bad.first_bad >= 0) throw_out_of_range(op, bad.value, limit, what); return);
  Tensor c = idx.contiguous();
  const int64_t* p = c.data<int64_t>();
  for (int64_t i = 0, n = c.numel(); i < n; ++i)
    if (p[i] < 0 || p[i] >= limit) throw_out_of_range(op, p[i], limit, what);
}

std::string dim_of(int64_t dim, const Tensor& x) {
  return "dim " + std::to_string(dim) + " of shape " + shape_str(x.shape());
}

// The indices of a 1-d index tensor as a vector, bounds-checked against [0, limit).
std::vector<int64_t> read_indices(const char* op, const Tensor& idx, int64_t limit, const std::string& what) {
  check_bounds(op, idx, limit, what);
  Tensor c = idx.contiguous();
  const int64_t* p = c.data<int64_t>();
  return std::vector<int64_t>(p, p + c.numel());
}

// x (any strides) viewed for iteration over `shape` with stride 0 at `dim`: the kernel adds the
// indexed offset itself. Byte strides, as cpu::for_each_row wants them.
std::vector<int64_t> byte_strides_except(const Tensor& x, int64_t dim) {
  std::vector<int64_t> st(x.dim());
  for (int64_t d = 0; d < x.dim(); ++d)
    st[d] = d == dim ? 0 : x.stride(d) * static_cast<int64_t>(x.element_size());
  return st;
}

// out = x's slices along `dim` at `ids`, stacked along `dim`. `op` names the caller in errors.
Tensor index_select_impl(const char* op, const Tensor& x, int64_t dim, const std::vector<int64_t>& ids) {
  Tensor xc = x.contiguous();
  Shape out_shape = x.shape();
  out_shape[dim] = static_cast<int64_t>(ids.size());
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  const int64_t n = static_cast<int64_t>(ids.size()), src_rows = x.size(dim);
  dispatch_all(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = xc.data<T>();
    T* dst = out.data<T>();
    // one task per (outer, i) row of `inner` elements
    cpu::parallel_for(outer * n, inner, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        int64_t o = r / n, i = r % n;
        std::copy_n(src + (o * src_rows + ids[i]) * inner, inner, dst + r * inner);
      }
    });
  });
  return out;
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& idx) {
  const char* op = "index_select";
  check_defined(op, x);
  check_index_tensor(op, idx, x);
  if (x.dim() == 0) throw std::invalid_argument("index_select: input must have at least 1 dim, got a 0-d tensor");
  dim = wrap_dim(dim, x.dim(), op);
  if (idx.dim() != 1)
    throw std::invalid_argument("index_select: index must be 1-d, got shape " + shape_str(idx.shape()));
  PM_ON_CUDA(x, check_bounds(op, idx, x.size(dim), dim_of(dim, x)); return cuda::index_select(x, dim, idx));
  return index_select_impl(op, x, dim, read_indices(op, idx, x.size(dim), dim_of(dim, x)));
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& idx) {
  const char* op = "gather";
  check_defined(op, x);
  check_index_tensor(op, idx, x);
  if (idx.dim() != x.dim())
    throw std::invalid_argument("gather: index of shape " + shape_str(idx.shape()) + " must have as many dims as input of shape " +
                                shape_str(x.shape()));
  if (x.dim() == 0) throw std::invalid_argument("gather: input must have at least 1 dim, got a 0-d tensor");
  dim = wrap_dim(dim, x.dim(), op);
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != dim && idx.size(d) > x.size(d))
      throw std::invalid_argument("gather: index of shape " + shape_str(idx.shape()) + " is larger than input of shape " +
                                  shape_str(x.shape()) + " in dim " + std::to_string(d));
  check_bounds(op, idx, x.size(dim), dim_of(dim, x));
  PM_ON_CUDA(x, return cuda::gather(x, dim, idx));
  Tensor out = Tensor::empty(idx.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  // Iterate over the index's shape; x steps along every dim but `dim`, whose offset comes from idx.
  cpu::Operands<3> ops;
  ops.base = {static_cast<char*>(out.raw_data()), static_cast<char*>(idx.raw_data()), static_cast<char*>(x.raw_data())};
  ops.strides = {cpu::broadcast_byte_strides(out, out.shape()), cpu::broadcast_byte_strides(idx, out.shape()),
                 byte_strides_except(x, dim)};
  const int64_t xsd = x.stride(dim);
  dispatch_all(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    cpu::for_each_row(out.shape(), ops, [xsd](std::array<char*, 3> p, const std::array<int64_t, 3>& st, int64_t n) {
      T* o = reinterpret_cast<T*>(p[0]);
      const int64_t* ix = reinterpret_cast<const int64_t*>(p[1]);
      const T* src = reinterpret_cast<const T*>(p[2]);
      const int64_t so = st[0] / static_cast<int64_t>(sizeof(T)), si = st[1] / static_cast<int64_t>(sizeof(int64_t)),
                    sx = st[2] / static_cast<int64_t>(sizeof(T));
      for (int64_t i = 0; i < n; ++i) o[i * so] = src[i * sx + ix[i * si] * xsd];
    });
  });
  return out;
}

Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& idx, const Tensor& src) {
  const char* op = "scatter_add";
  check_defined(op, base, "base");
  check_defined(op, src, "source");
  check_same_device(op, base, src);
  check_same_dtype(op, base, src);
  check_index_tensor(op, idx, base);
  if (idx.dim() != base.dim() || src.dim() != base.dim())
    throw std::invalid_argument("scatter_add: base " + shape_str(base.shape()) + ", index " + shape_str(idx.shape()) +
                                " and source " + shape_str(src.shape()) + " must have the same number of dims");
  if (base.dim() == 0) throw std::invalid_argument("scatter_add: base must have at least 1 dim, got a 0-d tensor");
  dim = wrap_dim(dim, base.dim(), op);
  for (int64_t d = 0; d < base.dim(); ++d)
    if (idx.size(d) > src.size(d) || (d != dim && idx.size(d) > base.size(d)))
      throw std::invalid_argument("scatter_add: index of shape " + shape_str(idx.shape()) + " is larger than source " +
                                  shape_str(src.shape()) + " or base " + shape_str(base.shape()) + " in dim " +
                                  std::to_string(d));
  check_bounds(op, idx, base.size(dim), dim_of(dim, base));
  PM_ON_CUDA(base, return cuda::scatter_add(base, dim, idx, src));
  Tensor out = base.clone();
  if (idx.numel() == 0) return out;
  // Iterate over idx's shape with `dim` collapsed to 1; each task owns distinct out positions
  // (they differ outside `dim`), and walks all of idx's `dim` sequentially: no two threads add
  // into the same element.
  Shape iter = idx.shape();
  const int64_t n = iter[dim];
  iter[dim] = 1;
  cpu::Operands<3> ops;
  ops.base = {static_cast<char*>(out.raw_data()), static_cast<char*>(idx.raw_data()), static_cast<char*>(src.raw_data())};
  ops.strides = {byte_strides_except(out, dim), byte_strides_except(idx, dim), byte_strides_except(src, dim)};
  const int64_t osd = out.stride(dim), isd = idx.stride(dim), ssd = src.stride(dim);
  dispatch_all(base.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    cpu::for_each_row(iter, ops, [=](std::array<char*, 3> p, const std::array<int64_t, 3>& st, int64_t len) {
      T* o = reinterpret_cast<T*>(p[0]);
      const int64_t* ix = reinterpret_cast<const int64_t*>(p[1]);
      const T* s = reinterpret_cast<const T*>(p[2]);
      const int64_t so = st[0] / static_cast<int64_t>(sizeof(T)), si = st[1] / static_cast<int64_t>(sizeof(int64_t)),
                    ss = st[2] / static_cast<int64_t>(sizeof(T));
      for (int64_t j = 0; j < n; ++j)
        for (int64_t k = 0; k < len; ++k) o[k * so + ix[k * si + j * isd] * osd] += s[k * ss + j * ssd];
    }, /*cost_per_element=*/n);
  });
  return out;
}

Tensor index_add(const Tensor& base, int64_t dim, const Tensor& idx, const Tensor& src) {
  const char* op = "index_add";
  check_defined(op, base, "base");
  check_defined(op, src, "source");
  check_same_device(op, base, src);
  check_same_dtype(op, base, src);
  check_index_tensor(op, idx, base);
  if (base.dim() == 0) throw std::invalid_argument("index_add: base must have at least 1 dim, got a 0-d tensor");
  dim = wrap_dim(dim, base.dim(), op);
  if (idx.dim() != 1)
    throw std::invalid_argument("index_add: index must be 1-d, got shape " + shape_str(idx.shape()));
  Shape want = base.shape();
  want[dim] = idx.numel();
  if (src.shape() != want)
    throw std::invalid_argument("index_add: source of shape " + shape_str(src.shape()) + " does not match base " +
                                shape_str(base.shape()) + " with " + std::to_string(idx.numel()) +
                                " indices along dim " + std::to_string(dim) + " (expected " + shape_str(want) + ")");
  PM_ON_CUDA(base, check_bounds(op, idx, base.size(dim), dim_of(dim, base));
             return cuda::index_add(base, dim, idx, src));
  std::vector<int64_t> ids = read_indices(op, idx, base.size(dim), dim_of(dim, base));
  Tensor out = base.clone();
  if (src.numel() == 0) return out;
  // Parallel over the positions outside `dim` (disjoint in out); the indices run sequentially
  // inside each task, so repeated indices accumulate without races.
  Shape iter = src.shape();
  iter[dim] = 1;
  cpu::Operands<2> ops;
  ops.base = {static_cast<char*>(out.raw_data()), static_cast<char*>(src.raw_data())};
  ops.strides = {byte_strides_except(out, dim), byte_strides_except(src, dim)};
  const int64_t osd = out.stride(dim), ssd = src.stride(dim);
  dispatch_all(base.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    cpu::for_each_row(iter, ops, [&ids, osd, ssd](std::array<char*, 2> p, const std::array<int64_t, 2>& st, int64_t len) {
      T* o = reinterpret_cast<T*>(p[0]);
      const T* s = reinterpret_cast<const T*>(p[1]);
      const int64_t so = st[0] / static_cast<int64_t>(sizeof(T)), ss = st[1] / static_cast<int64_t>(sizeof(T));
      for (size_t j = 0; j < ids.size(); ++j) {
        T* oj = o + ids[j] * osd;
        const T* sj = s + static_cast<int64_t>(j) * ssd;
        for (int64_t k = 0; k < len; ++k) oj[k * so] += sj[k * ss];
      }
    }, /*cost_per_element=*/static_cast<int64_t>(ids.size()));
  });
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  const char* op = "embedding";
  check_defined(op, weight, "weight");
  check_index_tensor(op, ids, weight);
  if (weight.dim() != 2)
    throw std::invalid_argument("embedding: weight must be 2-d [num_embeddings, dim], got shape " + shape_str(weight.shape()));
  PM_ON_CUDA(weight, check_bounds(op, ids, weight.size(0), "weight of shape " + shape_str(weight.shape()));
             return cuda::embedding(weight, ids));
  std::vector<int64_t> v = read_indices(op, ids, weight.size(0), "weight of shape " + shape_str(weight.shape()));
  Shape out_shape = ids.shape();
  out_shape.push_back(weight.size(1));
  return index_select_impl(op, weight, 0, v).view(out_shape);
}

Tensor embedding_backward(const Tensor& grad, const Tensor& ids, int64_t num_embeddings, int64_t padding_idx) {
  const char* op = "embedding_backward";
  check_defined(op, grad, "grad");
  check_index_tensor(op, ids, grad);
  if (grad.dim() != ids.dim() + 1 || !std::equal(ids.shape().begin(), ids.shape().end(), grad.shape().begin()))
    throw std::invalid_argument("embedding_backward: grad of shape " + shape_str(grad.shape()) +
                                " does not match ids of shape " + shape_str(ids.shape()) + " (expected [*ids, D])");
  if (num_embeddings < 0)
    throw std::invalid_argument("embedding_backward: num_embeddings must be >= 0, got " + std::to_string(num_embeddings));
  if (padding_idx >= num_embeddings)
    throw std::out_of_range("embedding_backward: padding_idx " + std::to_string(padding_idx) + " out of range [0, " +
                            std::to_string(num_embeddings) + ")");
  PM_ON_CUDA(grad, check_bounds(op, ids, num_embeddings, std::to_string(num_embeddings) + " embeddings");
             return cuda::embedding_backward(grad, ids, num_embeddings, padding_idx));
  std::vector<int64_t> v =
      read_indices(op, ids, num_embeddings, std::to_string(num_embeddings) + " embeddings");
  const int64_t D = grad.size(-1), n = static_cast<int64_t>(v.size());
  Tensor gc = grad.contiguous();
  return dispatch_float(grad.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out = zeros({num_embeddings, D}, grad.dtype(), grad.device());
    T* o = out.data<T>();
    const T* g = gc.data<T>();
    // Each task owns a range of columns and walks every id, so repeated ids never race.
    cpu::parallel_for(D, n, [&](int64_t c0, int64_t c1) {
      for (int64_t i = 0; i < n; ++i) {
        if (v[i] == padding_idx) continue;
        T* orow = o + v[i] * D;
        const T* grow = g + i * D;
        for (int64_t c = c0; c < c1; ++c) orow[c] += grow[c];
      }
    });
    return out;
  });
}

}  // namespace tensor
