// norms.cpp: RMSNorm and LayerNorm over the last dim on the CPU, forward and backward. Rows are
// independent and run in parallel; per-row sums and the weight/bias gradients (summed over every
// row) accumulate in double. CUDA tensors go to tensor/cuda/norms.h.
#include <cmath>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tensor/cpu/loops.h"
#include "tensor/cuda/dispatch.h"
#include "tensor/cuda/norms.h"
#include "tensor/ops/nn_ops.h"

namespace tensor {
namespace {

// x viewed as [rows, D] over its last dim D.
struct RowsGeom {
  int64_t rows = 1, D = 0;
  Shape stat_shape;  // x.shape[:-1]: the shape of mean and rstd
};

RowsGeom check_norm_input(const char* op, const Tensor& x) {
  check_defined(op, x, "input");
  if (x.dim() < 1) throw std::invalid_argument(std::string(op) + ": input must have at least 1 dim, got a 0-d tensor");
  RowsGeom g;
  g.D = x.size(-1);
  g.stat_shape = Shape(x.shape().begin(), x.shape().end() - 1);
  g.rows = numel_of(g.stat_shape);
  return g;
}

// weight / bias: undefined, or [D] of x's dtype. Returns a contiguous copy (or undefined).
Tensor check_param(const char* op, const char* what, const Tensor& t, const Tensor& x) {
  if (!t.defined()) return t;
  check_same_device(op, x, t);
  check_same_dtype(op, x, t);
  if (t.shape() != Shape{x.size(-1)})
    throw std::invalid_argument(std::string(op) + ": " + what + " of shape " + shape_str(t.shape()) +
                                " does not match the last dim of input " + shape_str(x.shape()));
  return t.contiguous();
}

void check_grad(const char* op, const Tensor& grad, const Tensor& x) {
  check_defined(op, grad, "gradient");
  check_same_device(op, x, grad);
  check_same_dtype(op, x, grad);
  if (grad.shape() != x.shape())
    throw std::invalid_argument(std::string(op) + ": gradient of shape " + shape_str(grad.shape()) +
                                " for an input of shape " + shape_str(x.shape()));
}

void check_stat(const char* op, const char* what, const Tensor& t, const Tensor& x, const RowsGeom& g) {
  check_defined(op, t, what);
  check_same_device(op, x, t);
  check_same_dtype(op, x, t);
  if (t.shape() != g.stat_shape)
    throw std::invalid_argument(std::string(op) + ": " + what + " of shape " + shape_str(t.shape()) +
                                " for an input of shape " + shape_str(x.shape()) + " (expected " +
                                shape_str(g.stat_shape) + ")");
}

// Runs body(r0, r1, acc) over row chunks in parallel, each chunk with its own zeroed double
// accumulator of n_acc entries; returns their sum, added in chunk order (deterministic for a given
// thread count).
template <typename Body>
std::vector<double> rows_with_partials(int64_t rows, int64_t cost_per_row, size_t n_acc, Body&& body) {
  std::map<int64_t, std::vector<double>> partial;
  std::mutex mu;
  cpu::parallel_for(rows, cost_per_row, [&](int64_t r0, int64_t r1) {
    std::vector<double> acc(n_acc, 0.0);
    body(r0, r1, acc.data());
    std::lock_guard<std::mutex> lock(mu);
    partial.emplace(r0, std::move(acc));
  });
  std::vector<double> total(n_acc, 0.0);
  for (const auto& kv : partial)
    for (size_t i = 0; i < n_acc; ++i) total[i] += kv.second[i];
  return total;
}

template <typename T> Tensor from_sums(const std::vector<double>& s, size_t start, int64_t D, const Tensor& like) {
  Tensor t = Tensor::empty({D}, like.dtype(), like.device());
  T* p = t.data<T>();
  for (int64_t i = 0; i < D; ++i) p[i] = static_cast<T>(s[start + i]);
  return t;
}

}  // namespace

// ---- RMSNorm: y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps) ------------------------------

NormForward rms_norm(const Tensor& x_in, const Tensor& weight_in, double eps) {
  const RowsGeom g = check_norm_input("rms_norm", x_in);
  Tensor weight = check_param("rms_norm", "weight", weight_in, x_in);
  Tensor x = x_in.contiguous();
  PM_ON_CUDA(x, return cuda::rms_norm(x, weight, eps));
  NormForward r;
  r.y = Tensor::empty(x.shape(), x.dtype(), x.device());
  r.rstd = Tensor::empty(g.stat_shape, x.dtype(), x.device());
  dispatch_float(x.dtype(), "rms_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    const T* wp = weight.defined() ? weight.data<T>() : nullptr;
    T* yp = r.y.data<T>();
    T* rp = r.rstd.data<T>();
    const int64_t D = g.D;
    cpu::parallel_for(g.rows, 2 * D, [&](int64_t r0, int64_t r1) {
      for (int64_t row = r0; row < r1; ++row) {
        const T* xr = xp + row * D;
        T* yr = yp + row * D;
        double ss = 0;
        for (int64_t i = 0; i < D; ++i) ss += static_cast<double>(xr[i]) * xr[i];
        const double rstd = 1.0 / std::sqrt((D > 0 ? ss / D : 0.0) + eps);
        rp[row] = static_cast<T>(rstd);
        for (int64_t i = 0; i < D; ++i) {
          double v = xr[i] * rstd;
          yr[i] = static_cast<T>(wp ? v * wp[i] : v);
        }
      }
    });
  });
  return r;
}

// With xhat = x * rstd and dxhat = g * w:  dx = rstd * (dxhat - xhat * mean(dxhat * xhat)),
// dw = sum over rows of g * xhat.
NormGrads rms_norm_backward(const Tensor& grad_in, const Tensor& x_in, const Tensor& weight_in, const Tensor& rstd_in) {
  const RowsGeom g = check_norm_input("rms_norm_backward", x_in);
  check_grad("rms_norm_backward", grad_in, x_in);
  check_stat("rms_norm_backward", "rstd", rstd_in, x_in, g);
  Tensor weight = check_param("rms_norm_backward", "weight", weight_in, x_in);
  Tensor x = x_in.contiguous(), grad = grad_in.contiguous(), rstd = rstd_in.contiguous();
  PM_ON_CUDA(x, return cuda::rms_norm_backward(grad, x, weight, rstd));
  NormGrads r;
  r.dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_float(x.dtype(), "rms_norm_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    const T* gp = grad.data<T>();
    const T* rp = rstd.data<T>();
    const T* wp = weight.defined() ? weight.data<T>() : nullptr;
    T* dxp = r.dx.data<T>();
    const int64_t D = g.D;
    std::vector<double> dw = rows_with_partials(g.rows, 4 * D, wp ? D : 0, [&](int64_t r0, int64_t r1, double* acc) {
      for (int64_t row = r0; row < r1; ++row) {
        const T* xr = xp + row * D;
        const T* gr = gp + row * D;
        T* dxr = dxp + row * D;
        const double rs = rp[row];
        double dot = 0;  // sum of dxhat * xhat
        for (int64_t i = 0; i < D; ++i) {
          const double xh = xr[i] * rs, dxh = wp ? static_cast<double>(gr[i]) * wp[i] : gr[i];
          dot += dxh * xh;
          if (wp) acc[i] += static_cast<double>(gr[i]) * xh;
        }
        const double m = D > 0 ? dot / D : 0.0;
        for (int64_t i = 0; i < D; ++i) {
          const double xh = xr[i] * rs, dxh = wp ? static_cast<double>(gr[i]) * wp[i] : gr[i];
          dxr[i] = static_cast<T>(rs * (dxh - xh * m));
        }
      }
    });
    if (wp) r.dweight = from_sums<T>(dw, 0, D, x);
  });
  return r;
}

// ---- LayerNorm: y = (x - mean) * rstd * w + b, rstd = 1 / sqrt(var + eps) (population var) ----

NormForward layer_norm(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, double eps) {
  const RowsGeom g = check_norm_input("layer_norm", x_in);
  Tensor weight = check_param("layer_norm", "weight", weight_in, x_in);
  Tensor bias = check_param("layer_norm", "bias", bias_in, x_in);
  Tensor x = x_in.contiguous();
  PM_ON_CUDA(x, return cuda::layer_norm(x, weight, bias, eps));
  NormForward r;
  r.y = Tensor::empty(x.shape(), x.dtype(), x.device());
  r.mean = Tensor::empty(g.stat_shape, x.dtype(), x.device());
  r.rstd = Tensor::empty(g.stat_shape, x.dtype(), x.device());
  dispatch_float(x.dtype(), "layer_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    const T* wp = weight.defined() ? weight.data<T>() : nullptr;
    const T* bp = bias.defined() ? bias.data<T>() : nullptr;
    T* yp = r.y.data<T>();
    T* mp = r.mean.data<T>();
    T* rp = r.rstd.data<T>();
    const int64_t D = g.D;
    cpu::parallel_for(g.rows, 3 * D, [&](int64_t r0, int64_t r1) {
      for (int64_t row = r0; row < r1; ++row) {
        const T* xr = xp + row * D;
        T* yr = yp + row * D;
        double s = 0;
        for (int64_t i = 0; i < D; ++i) s += xr[i];
        const double mu = D > 0 ? s / D : 0.0;
        double ss = 0;  // two passes: the centred sum of squares does not cancel
        for (int64_t i = 0; i < D; ++i) ss += (xr[i] - mu) * (xr[i] - mu);
        const double rstd = 1.0 / std::sqrt((D > 0 ? ss / D : 0.0) + eps);
        mp[row] = static_cast<T>(mu);
        rp[row] = static_cast<T>(rstd);
        for (int64_t i = 0; i < D; ++i) {
          double v = (xr[i] - mu) * rstd;
          if (wp) v *= wp[i];
          if (bp) v += bp[i];
          yr[i] = static_cast<T>(v);
        }
      }
    });
  });
  return r;
}

// With xhat = (x - mean) * rstd and dxhat = g * w:
// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dw = sum g * xhat, db = sum g.
NormGrads layer_norm_backward(const Tensor& grad_in, const Tensor& x_in, const Tensor& weight_in, const Tensor& mean_in,
                              const Tensor& rstd_in, bool has_bias) {
  const RowsGeom g = check_norm_input("layer_norm_backward", x_in);
  check_grad("layer_norm_backward", grad_in, x_in);
  check_stat("layer_norm_backward", "mean", mean_in, x_in, g);
  check_stat("layer_norm_backward", "rstd", rstd_in, x_in, g);
  Tensor weight = check_param("layer_norm_backward", "weight", weight_in, x_in);
  Tensor x = x_in.contiguous(), grad = grad_in.contiguous(), mean = mean_in.contiguous(), rstd = rstd_in.contiguous();
  PM_ON_CUDA(x, return cuda::layer_norm_backward(grad, x, weight, mean, rstd, has_bias));
  NormGrads r;
  r.dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_float(x.dtype(), "layer_norm_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    const T* gp = grad.data<T>();
    const T* mp = mean.data<T>();
    const T* rp = rstd.data<T>();
    const T* wp = weight.defined() ? weight.data<T>() : nullptr;
    T* dxp = r.dx.data<T>();
    const int64_t D = g.D;
    // accumulators: [0, D) weight gradient, [D, 2D) bias gradient (each only when wanted)
    const int64_t dw_at = 0, db_at = wp ? D : 0;
    const size_t n_acc = static_cast<size_t>((wp ? D : 0) + (has_bias ? D : 0));
    std::vector<double> sums = rows_with_partials(g.rows, 5 * D, n_acc, [&](int64_t r0, int64_t r1, double* acc) {
      for (int64_t row = r0; row < r1; ++row) {
        const T* xr = xp + row * D;
        const T* gr = gp + row * D;
        T* dxr = dxp + row * D;
        const double mu = mp[row], rs = rp[row];
        double sum_dxh = 0, dot = 0;
        for (int64_t i = 0; i < D; ++i) {
          const double xh = (xr[i] - mu) * rs, dxh = wp ? static_cast<double>(gr[i]) * wp[i] : gr[i];
          sum_dxh += dxh;
          dot += dxh * xh;
          if (wp) acc[dw_at + i] += static_cast<double>(gr[i]) * xh;
          if (has_bias) acc[db_at + i] += gr[i];
        }
        const double m1 = D > 0 ? sum_dxh / D : 0.0, m2 = D > 0 ? dot / D : 0.0;
        for (int64_t i = 0; i < D; ++i) {
          const double xh = (xr[i] - mu) * rs, dxh = wp ? static_cast<double>(gr[i]) * wp[i] : gr[i];
          dxr[i] = static_cast<T>(rs * (dxh - m1 - xh * m2));
        }
      }
    });
    if (wp) r.dweight = from_sums<T>(sums, dw_at, D, x);
    if (has_bias) r.dbias = from_sums<T>(sums, db_at, D, x);
  });
  return r;
}

}  // namespace tensor
