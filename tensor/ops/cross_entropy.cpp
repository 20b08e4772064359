// cross_entropy.cpp: fused softmax cross-entropy of logits [N, C] against int64 class targets on
// the CPU, with ignore_index and label smoothing, PyTorch's semantics:
//   loss_i = (1 - e) * (-log p_{i,t_i}) + e * mean_c(-log p_{i,c}),  loss = mean over rows t_i != ignore
// With lse_i = log sum_c exp(x_ic) (max-subtracted), -log p_ic = lse_i - x_ic, so
//   loss_i = lse_i - (1 - e) x_{i,t_i} - e mean_c(x_ic).
// When every row is ignored the mean is 0/0 = NaN, as in PyTorch. CUDA tensors go to
// tensor/cuda/cross_entropy.h once their targets pass the device-side check (same messages).
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tensor/cpu/loops.h"
#include "tensor/cuda/cross_entropy.h"
#include "tensor/cuda/dispatch.h"
#include "tensor/cuda/index.h"
#include "tensor/ops/creation.h"
#include "tensor/ops/nn_ops.h"

namespace tensor {
namespace {

void check_ce(const char* op, const Tensor& logits, const Tensor& target, const CrossEntropyOptions& opt) {
  check_defined(op, logits, "logits");
  check_defined(op, target, "target");
  check_same_device(op, logits, target);
  if (logits.dim() != 2)
    throw std::invalid_argument(std::string(op) + ": expected logits [N, C], got " + shape_str(logits.shape()));
  if (logits.size(1) < 1)
    throw std::invalid_argument(std::string(op) + ": logits " + shape_str(logits.shape()) + " have no classes");
  if (target.dtype() != DType::Int64)
    throw std::invalid_argument(std::string(op) + ": target must be int64, got " + dtype_name(target.dtype()));
  if (target.dim() != 1 || target.size(0) != logits.size(0))
    throw std::invalid_argument(std::string(op) + ": target of shape " + shape_str(target.shape()) +
                                " for logits " + shape_str(logits.shape()) + " (expected [" +
                                std::to_string(logits.size(0)) + "])");
  if (!(opt.label_smoothing >= 0.0 && opt.label_smoothing <= 1.0))
    throw std::invalid_argument(std::string(op) + ": label_smoothing must be in [0, 1], got " +
                                std::to_string(opt.label_smoothing));
}

[[noreturn]] void throw_bad_target(const char* op, int64_t value, int64_t row, int64_t C) {
  throw std::out_of_range(std::string(op) + ": target " + std::to_string(value) + " at row " + std::to_string(row) +
                          " is out of range for " + std::to_string(C) + " classes");
}

// Reads the targets, throws on one out of range, and counts the rows that are not ignored.
std::vector<int64_t> read_targets(const char* op, const Tensor& target, int64_t C, const CrossEntropyOptions& opt,
                                  int64_t& n_valid) {
  Tensor t = target.contiguous();
  const int64_t* tp = t.data<int64_t>();
  std::vector<int64_t> out(tp, tp + t.numel());
  n_valid = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == opt.ignore_index) continue;
    if (out[i] < 0 || out[i] >= C) throw_bad_target(op, out[i], static_cast<int64_t>(i), C);
    ++n_valid;
  }
  return out;
}

#if defined(PM_HAVE_CUDA)
// The device-side twin of read_targets around a CUDA computation: the target check (which also
// counts the valid rows, on the device) is queued first, then compute(n_valid), and only then does
// the host wait for the check's verdict (one small copy back), so the GPU never idles for it.
template <typename F>
Tensor checked_on_cuda(const char* op, const Tensor& target, int64_t C, const CrossEntropyOptions& opt, F&& compute) {
  const cuda::PendingIndexCheck check = cuda::start_index_check(target, C, true, opt.ignore_index);
  Tensor out = compute(check.n_kept);
  const cuda::IndexCheck bad = cuda::finish_index_check(check);
  if (bad.first_bad >= 0) throw_bad_target(op, bad.value, bad.first_bad, C);
  return out;
}
#endif

// log sum_c exp(x_c) of one row, shifted by its maximum.
template <typename T> double log_sum_exp(const T* x, int64_t C) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < C; ++c) m = std::max(m, static_cast<double>(x[c]));
  if (std::isinf(m) && m < 0) return m;  // every logit is -inf
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += std::exp(x[c] - m);
  return m + std::log(s);
}

}  // namespace

Tensor cross_entropy(const Tensor& logits_in, const Tensor& target, const CrossEntropyOptions& opt, Tensor* row_lse) {
  check_ce("cross_entropy", logits_in, target, opt);
  const int64_t N = logits_in.size(0), C = logits_in.size(1);
  PM_ON_CUDA(logits_in, return checked_on_cuda("cross_entropy", target, C, opt, [&](const Tensor& n_valid) {
               return cuda::cross_entropy(logits_in.contiguous(), target, n_valid, opt, row_lse);
             }));
  int64_t n_valid = 0;
  const std::vector<int64_t> t = read_targets("cross_entropy", target, C, opt, n_valid);
  Tensor logits = logits_in.contiguous();
  Tensor out = Tensor::empty({}, logits.dtype(), logits.device());
  if (row_lse) *row_lse = zeros({N}, logits.dtype());
  const double e = opt.label_smoothing;
  dispatch_float(logits.dtype(), "cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = logits.data<T>();
    T* lp = row_lse ? row_lse->data<T>() : nullptr;
    std::vector<double> row_loss(static_cast<size_t>(N), 0.0);
    cpu::parallel_for(N, 2 * C, [&](int64_t r0, int64_t r1) {
      for (int64_t i = r0; i < r1; ++i) {
        if (t[i] == opt.ignore_index) continue;
        const T* x = xp + i * C;
        const double lse = log_sum_exp(x, C);
        if (lp) lp[i] = static_cast<T>(lse);
        double loss = (1.0 - e) * (lse - x[t[i]]);
        if (e != 0.0) {
          double s = 0;
          for (int64_t c = 0; c < C; ++c) s += x[c];
          loss += e * (lse - s / C);
        }
        row_loss[i] = loss;
      }
    });
    double total = 0;  // summed in row order: the same result for any thread count
    for (double l : row_loss) total += l;
    *out.data<T>() = static_cast<T>(total / static_cast<double>(n_valid));  // 0/0 = NaN when all ignored
  });
  return out;
}

// dL/dx_ic = (softmax(x_i)_c - q_ic) * g / n_valid with q_i = (1 - e) onehot(t_i) + e / C; ignored
// rows (and every row when all are ignored) get 0.
Tensor cross_entropy_backward(const Tensor& grad, const Tensor& logits_in, const Tensor& target,
                              const CrossEntropyOptions& opt, const Tensor& row_lse_in) {
  check_ce("cross_entropy_backward", logits_in, target, opt);
  check_defined("cross_entropy_backward", grad, "gradient");
  check_same_device("cross_entropy_backward", logits_in, grad);
  if (grad.numel() != 1)
    throw std::invalid_argument("cross_entropy_backward: expected a one-element gradient, got " +
                                shape_str(grad.shape()));
  const int64_t N = logits_in.size(0), C = logits_in.size(1);
  Tensor row_lse;
  if (row_lse_in.defined()) {
    check_same_device("cross_entropy_backward", logits_in, row_lse_in);
    if (row_lse_in.shape() != Shape{N})
      throw std::invalid_argument("cross_entropy_backward: row_lse of shape " + shape_str(row_lse_in.shape()) +
                                  " for logits " + shape_str(logits_in.shape()) + " (expected [" + std::to_string(N) +
                                  "])");
    row_lse = row_lse_in.to(logits_in.dtype()).contiguous();
  }
  // On a GPU the gradient is read there, converted to the logits' dtype: no copy to the host.
  PM_ON_CUDA(logits_in, return checked_on_cuda("cross_entropy_backward", target, C, opt, [&](const Tensor& n_valid) {
               return cuda::cross_entropy_backward(grad.to(logits_in.dtype()), logits_in.contiguous(), target, n_valid,
                                                   opt, row_lse);
             }));
  int64_t n_valid = 0;
  const std::vector<int64_t> t = read_targets("cross_entropy_backward", target, C, opt, n_valid);
  Tensor logits = logits_in.contiguous();
  Tensor dx = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  const double e = opt.label_smoothing;
  const double scale = n_valid > 0 ? grad.item<double>() / static_cast<double>(n_valid) : 0.0;
  dispatch_float(logits.dtype(), "cross_entropy_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = logits.data<T>();
    const T* lp = row_lse.defined() ? row_lse.data<T>() : nullptr;
    T* dp = dx.data<T>();
    cpu::parallel_for(N, 3 * C, [&](int64_t r0, int64_t r1) {
      for (int64_t i = r0; i < r1; ++i) {
        const T* x = xp + i * C;
        T* d = dp + i * C;
        if (t[i] == opt.ignore_index || n_valid == 0) {
          for (int64_t c = 0; c < C; ++c) d[c] = T(0);
          continue;
        }
        const double lse = lp ? static_cast<double>(lp[i]) : log_sum_exp(x, C);
        for (int64_t c = 0; c < C; ++c) {
          const double q = (c == t[i] ? 1.0 - e : 0.0) + e / C;
          d[c] = static_cast<T>((std::exp(x[c] - lse) - q) * scale);
        }
      }
    });
  });
  return dx;
}

}  // namespace tensor
