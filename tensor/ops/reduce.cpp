// reduce.cpp: reductions and softmax on the CPU. Every reduction is brought to one shape: the
// kept dims flattened into `outer` rows and the reduced dims into a contiguous row of `R`
// elements (a permute + contiguous, free when the reduced dims are already innermost). Reducing
// leading dims of a contiguous tensor (a bias gradient) takes a column path instead, with no copy.
// The planning is shared by both devices; tensors on a GPU branch off at the kernel call
// (tensor/cuda/reduce.cu).
#include "tensor/ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/cpu/loops.h"
#include "tensor/cuda/dispatch.h"
#include "tensor/cuda/reduce.h"
#include "tensor/ops/creation.h"
#include "tensor/ops/elementwise.h"

namespace tensor {
namespace {

// The reduction plan: which dims go, the output shapes with and without kept size-1 dims.
struct Plan {
  std::vector<bool> reduced;
  Shape out_keep, out_drop;
  int64_t outer = 1, R = 1;
};

Plan make_plan(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  Plan p;
  p.reduced.assign(x.dim(), dims.empty());
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, x.dim(), op);
    if (p.reduced[w]) throw std::invalid_argument(std::string(op) + ": dim " + std::to_string(d) + " listed twice");
    p.reduced[w] = true;
  }
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (p.reduced[i]) {
      p.R *= x.size(i);
      p.out_keep.push_back(1);
    } else {
      p.outer *= x.size(i);
      p.out_keep.push_back(x.size(i));
      p.out_drop.push_back(x.size(i));
    }
  }
  return p;
}

// x rearranged as a contiguous [outer, R] matrix (kept dims first, in order).
Tensor as_rows(const Tensor& x, const Plan& p) {
  std::vector<int64_t> perm;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (!p.reduced[i]) perm.push_back(i);
  for (int64_t i = 0; i < x.dim(); ++i)
    if (p.reduced[i]) perm.push_back(i);
  return x.permute(perm).contiguous().view({p.outer, p.R});
}

// True when the reduced dims are exactly a leading prefix of a contiguous x (column reduction).
bool is_leading_reduction(const Tensor& x, const Plan& p) {
  if (!x.is_contiguous() || p.outer == 1) return false;
  int64_t i = 0;
  while (i < x.dim() && p.reduced[i]) ++i;
  if (i == 0) return false;
  for (int64_t j = i; j < x.dim(); ++j)
    if (p.reduced[j]) return false;
  return true;
}

template <typename T> using Acc = double;  // float32 sums accumulate in double

// Row sums of an [outer, R] matrix (scaled by `scale`) into out.
template <typename T> void sum_rows(const Tensor& rows, const Tensor& out, double scale) {
  const T* x = rows.data<T>();
  T* o = out.data<T>();
  const int64_t outer = rows.size(0), R = rows.size(1);
  cpu::parallel_for(outer, R, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      Acc<T> s = 0;
      const T* xr = x + r * R;
      for (int64_t i = 0; i < R; ++i) s += xr[i];
      o[r] = static_cast<T>(s * scale);
    }
  });
}

// Column sums: x contiguous as [R, outer] -> out[outer], parallel over column blocks.
template <typename T> void sum_columns(const Tensor& x, const Tensor& out, int64_t R, int64_t outer, double scale) {
  const T* xp = x.data<T>();
  T* o = out.data<T>();
  cpu::parallel_for(outer, R, [&](int64_t c0, int64_t c1) {
    std::vector<Acc<T>> acc(static_cast<size_t>(c1 - c0), 0);
    for (int64_t r = 0; r < R; ++r) {
      const T* xr = xp + r * outer + c0;
      for (int64_t c = 0; c < c1 - c0; ++c) acc[c] += xr[c];
    }
    for (int64_t c = c0; c < c1; ++c) o[c] = static_cast<T>(acc[c - c0] * scale);
  });
}

Tensor sum_impl(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool average, const char* op) {
  check_defined(op, x);
  Plan p = make_plan(x, dims, op);
  if (average && !is_floating(x.dtype()))
    throw std::invalid_argument(std::string(op) + ": needs a float tensor, got " + dtype_name(x.dtype()));
  const double scale = average ? 1.0 / static_cast<double>(p.R) : 1.0;  // mean of nothing is NaN, as torch
  Tensor out = Tensor::empty(keepdim ? p.out_keep : p.out_drop, x.dtype(), x.device());
  PM_ON_CUDA(x, {
    if (is_floating(x.dtype()) && is_leading_reduction(x, p))
      cuda::sum_columns(x, out, p.R, p.outer, scale);
    else
      cuda::sum_rows(as_rows(x, p), out, scale);
    return out;
  });
  if (is_floating(x.dtype())) {
    dispatch_float(x.dtype(), op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (is_leading_reduction(x, p))
        sum_columns<T>(x, out, p.R, p.outer, scale);
      else
        sum_rows<T>(as_rows(x, p), out, scale);
    });
  } else {
    Tensor rows = as_rows(x, p);
    dispatch_all(x.dtype(), op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* xr = rows.template data<T>();
      T* o = out.template data<T>();
      for (int64_t r = 0; r < p.outer; ++r) {
        int64_t s = 0;
        for (int64_t i = 0; i < p.R; ++i) s += static_cast<int64_t>(xr[r * p.R + i]);
        o[r] = static_cast<T>(s);
      }
    });
  }
  return out;
}

// The permutation moving `dim` to the end, the other dims keeping their order.
std::vector<int64_t> last_perm(int64_t ndim, int64_t dim) {
  std::vector<int64_t> perm;
  for (int64_t i = 0; i < ndim; ++i)
    if (i != dim) perm.push_back(i);
  perm.push_back(dim);
  return perm;
}
// Its inverse: brings the last dim back to position `dim`.
std::vector<int64_t> unlast_perm(int64_t ndim, int64_t dim) {
  std::vector<int64_t> perm;
  for (int64_t i = 0; i < ndim; ++i) perm.push_back(i < dim ? i : (i == dim ? ndim - 1 : i - 1));
  return perm;
}
// x with `dim` moved last, contiguous: the layout softmax and max work in.
Tensor dim_last(const Tensor& x, int64_t dim) { return x.permute(last_perm(x.dim(), dim)).contiguous(); }

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) { return sum_impl(x, dims, keepdim, false, "sum"); }
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) { return sum_impl(x, dims, keepdim, true, "mean"); }

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  check_defined("var", x);
  Plan p = make_plan(x, dims, "var");
  Tensor rows = as_rows(x, p);
  Tensor out = Tensor::empty(keepdim ? p.out_keep : p.out_drop, x.dtype(), x.device());
  PM_ON_CUDA(x, cuda::var_rows(rows, out, correction); return out);
  const double denom = static_cast<double>(p.R - correction);
  dispatch_float(x.dtype(), "var", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xr = rows.template data<T>();
    T* o = out.template data<T>();
    cpu::parallel_for(p.outer, p.R, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* v = xr + r * p.R;
        double m = 0, ss = 0;
        for (int64_t i = 0; i < p.R; ++i) m += v[i];
        m /= static_cast<double>(p.R);
        for (int64_t i = 0; i < p.R; ++i) ss += (v[i] - m) * (v[i] - m);
        o[r] = static_cast<T>(denom > 0 ? ss / denom : std::numeric_limits<double>::quiet_NaN());
      }
    });
  });
  return out;
}

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  check_defined("max", x);
  int64_t d = wrap_dim(dim, x.dim(), "max");
  if (x.dim() > 0 && x.size(d) == 0) throw std::invalid_argument("max: dim " + std::to_string(dim) + " of shape " + shape_str(x.shape()) + " is empty");
  Tensor rows = x.dim() == 0 ? x.reshape({1, 1}) : dim_last(x, d);
  const int64_t R = x.dim() == 0 ? 1 : x.size(d), outer = x.numel() / std::max<int64_t>(R, 1);
  Shape keep = x.shape(), drop = x.shape();
  if (x.dim() > 0) {
    keep[d] = 1;
    drop.erase(drop.begin() + d);
  }
  Tensor values = Tensor::empty(keepdim ? keep : drop, x.dtype(), x.device());
  Tensor indices = Tensor::empty(keepdim ? keep : drop, DType::Int64, x.device());
  PM_ON_CUDA(x, cuda::max_rows(rows.reshape({outer, R}), values, indices); return {values, indices});
  dispatch_all(x.dtype(), "max", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xr = rows.template data<T>();
    T* v = values.template data<T>();
    int64_t* ix = indices.data<int64_t>();
    cpu::parallel_for(outer, R, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = xr + r * R;
        int64_t best = 0;
        for (int64_t i = 1; i < R; ++i) {
          if (row[best] != row[best]) break;  // NaN wins and stays
          if (row[i] > row[best] || row[i] != row[i]) best = i;
        }
        v[r] = row[best];
        ix[r] = best;
      }
    });
  });
  return {values, indices};
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return max(x, dim, keepdim).second; }

Tensor max_all(const Tensor& x) {
  if (x.numel() == 0) throw std::invalid_argument("max_all: empty tensor");
  return max(x.reshape({-1}), 0, false).first;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  if (static_cast<int64_t>(shape.size()) > x.dim())
    throw std::invalid_argument("sum_to: cannot sum shape " + shape_str(x.shape()) + " to " + shape_str(shape));
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i < lead) {
      dims.push_back(i);
    } else if (shape[i - lead] == 1 && x.size(i) != 1) {
      dims.push_back(i);
    } else if (shape[i - lead] != x.size(i)) {
      throw std::invalid_argument("sum_to: cannot sum shape " + shape_str(x.shape()) + " to " + shape_str(shape));
    }
  }
  if (dims.empty()) return x.reshape(shape);
  return sum(x, dims, true).reshape(shape);
}

namespace {
// softmax (log = false) or log_softmax (log = true) of each row of a contiguous [outer, R] layout.
template <typename T> void softmax_rows(const T* x, T* y, int64_t outer, int64_t R, bool log) {
  cpu::parallel_for(outer, R * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * R;
      T* yr = y + r * R;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t i = 0; i < R; ++i) m = std::max(m, xr[i]);
      if (m == -std::numeric_limits<T>::infinity()) m = 0;  // all -inf: avoid inf - inf
      double s = 0;
      for (int64_t i = 0; i < R; ++i) s += std::exp(static_cast<double>(xr[i] - m));
      if (log) {
        // (x - m) - log s, not x - (m + log s): the latter loses digits when |m| is large
        const T log_s = static_cast<T>(std::log(s));
        for (int64_t i = 0; i < R; ++i) yr[i] = (xr[i] - m) - log_s;
      } else {
        const double inv = 1.0 / s;
        for (int64_t i = 0; i < R; ++i) yr[i] = static_cast<T>(std::exp(static_cast<double>(xr[i] - m)) * inv);
      }
    }
  });
}

// dx = y * (g - sum(g y)) for softmax; dx = g - exp(y) * sum(g) for log_softmax.
template <typename T> void softmax_backward_rows(const T* g, const T* y, T* dx, int64_t outer, int64_t R, bool log) {
  cpu::parallel_for(outer, R * 2, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T *gr = g + r * R, *yr = y + r * R;
      T* dr = dx + r * R;
      double s = 0;
      if (log) {
        for (int64_t i = 0; i < R; ++i) s += gr[i];
        for (int64_t i = 0; i < R; ++i) dr[i] = gr[i] - static_cast<T>(std::exp(static_cast<double>(yr[i])) * s);
      } else {
        for (int64_t i = 0; i < R; ++i) s += static_cast<double>(gr[i]) * yr[i];
        for (int64_t i = 0; i < R; ++i) dr[i] = yr[i] * (gr[i] - static_cast<T>(s));
      }
    }
  });
}

Tensor softmax_impl(const Tensor& x, int64_t dim, bool log, const char* op) {
  check_defined(op, x);
  if (x.dim() == 0) return softmax_impl(x.reshape({1}), 0, log, op).reshape({});
  int64_t d = wrap_dim(dim, x.dim(), op);
  Tensor xl = dim_last(x, d);
  Tensor yl = Tensor::empty(xl.shape(), x.dtype(), x.device());
  const int64_t R = x.size(d), outer = R ? x.numel() / R : 0;
  PM_ON_CUDA(x, cuda::softmax_rows(xl, yl, outer, R, log); return yl.permute(unlast_perm(x.dim(), d)).contiguous());
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_rows<T>(xl.template data<T>(), yl.template data<T>(), outer, R, log);
  });
  return yl.permute(unlast_perm(x.dim(), d)).contiguous();
}

Tensor softmax_backward_impl(const Tensor& g, const Tensor& y, int64_t dim, bool log, const char* op) {
  check_defined(op, g, "gradient");
  check_defined(op, y, "output");
  check_same_dtype(op, g, y);
  check_same_device(op, g, y);
  if (g.shape() != y.shape())
    throw std::invalid_argument(std::string(op) + ": gradient " + shape_str(g.shape()) + " for output " + shape_str(y.shape()));
  if (y.dim() == 0) return zeros_like(y);
  int64_t d = wrap_dim(dim, y.dim(), op);
  Tensor gl = dim_last(g, d), yl = dim_last(y, d);
  Tensor dl = Tensor::empty(yl.shape(), y.dtype(), y.device());
  const int64_t R = y.size(d), outer = R ? y.numel() / R : 0;
  PM_ON_CUDA(y, cuda::softmax_backward_rows(gl, yl, dl, outer, R, log); return dl.permute(unlast_perm(y.dim(), d)).contiguous());
  dispatch_float(y.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_backward_rows<T>(gl.template data<T>(), yl.template data<T>(), dl.template data<T>(), outer, R, log);
  });
  return dl.permute(unlast_perm(y.dim(), d)).contiguous();
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true, "log_softmax"); }
Tensor softmax_backward(const Tensor& g, const Tensor& y, int64_t dim) {
  return softmax_backward_impl(g, y, dim, false, "softmax_backward");
}
Tensor log_softmax_backward(const Tensor& g, const Tensor& y, int64_t dim) {
  return softmax_backward_impl(g, y, dim, true, "log_softmax_backward");
}

}  // namespace tensor
