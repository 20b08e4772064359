// optim.cpp: the fused AdamW update on the CPU (one parallel pass), its checks, and the op-by-op
// path for tensors that are not contiguous. CUDA tensors go to tensor/cuda/optim.h.
#include "tensor/ops/optim.h"

#include <cmath>
#include <string>

#include "tensor/cpu/loops.h"
#include "tensor/cuda/dispatch.h"
#include "tensor/cuda/optim.h"
#include "tensor/ops/creation.h"
#include "tensor/ops/elementwise.h"

namespace tensor {
namespace {

constexpr const char* kOp = "adamw_update_";

void check_operand(const Tensor& param, const Tensor& t, const char* what) {
  check_defined(kOp, t, what);
  check_same_device(kOp, param, t);
  check_same_dtype(kOp, param, t);
  if (t.shape() != param.shape())
    throw std::invalid_argument(std::string(kOp) + ": " + what + " of shape " + shape_str(t.shape()) +
                                " does not match the parameter's " + shape_str(param.shape()));
}

// The same formula as separate tensor ops, for layouts the fused loops do not take.
void adamw_by_ops(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const AdamWStep& s,
                  double bc1, double bc2) {
  mul_(p, 1.0 - s.lr * s.weight_decay);
  mul_(m, s.beta1);
  add_(m, g, 1.0 - s.beta1);
  mul_(v, s.beta2);
  add_(v, mul(mul(g, 1.0 - s.beta2), g));
  Tensor denom = add(div(sqrt(v), scalar_tensor(std::sqrt(bc2), p.dtype(), p.device())), s.eps);
  add_(p, div(mul(m, -(s.lr / bc1)), denom));
}

}  // namespace

void adamw_update_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                   const AdamWStep& s) {
  check_defined(kOp, param, "param");
  check_operand(param, grad, "grad");
  check_operand(param, exp_avg, "exp_avg");
  check_operand(param, exp_avg_sq, "exp_avg_sq");
  if (s.step < 1) throw std::invalid_argument(std::string(kOp) + ": step must be >= 1, got " + std::to_string(s.step));
  dispatch_float(param.dtype(), kOp, [](auto) {});  // float32 / float64 only, named in the error
  const double bc1 = 1.0 - std::pow(s.beta1, static_cast<double>(s.step));
  const double bc2 = 1.0 - std::pow(s.beta2, static_cast<double>(s.step));
  if (!(param.is_contiguous() && grad.is_contiguous() && exp_avg.is_contiguous() && exp_avg_sq.is_contiguous())) {
    adamw_by_ops(param, grad, exp_avg, exp_avg_sq, s, bc1, bc2);
    return;
  }
  if (param.numel() == 0) return;
  PM_ON_CUDA(param, cuda::adamw_update_(param, grad, exp_avg, exp_avg_sq, s); return);
  dispatch_float(param.dtype(), kOp, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* m = exp_avg.data<T>();
    T* v = exp_avg_sq.data<T>();
    // The scalars in the parameter's dtype, as the op-by-op path rounds them.
    const T decay = static_cast<T>(1.0 - s.lr * s.weight_decay), b1 = static_cast<T>(s.beta1),
            one_b1 = static_cast<T>(1.0 - s.beta1), b2 = static_cast<T>(s.beta2), one_b2 = static_cast<T>(1.0 - s.beta2),
            sqrt_bc2 = static_cast<T>(std::sqrt(bc2)), eps = static_cast<T>(s.eps),
            neg_step = static_cast<T>(-(s.lr / bc1));
    cpu::parallel_for(param.numel(), 8, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const T gi = g[i];
        const T mi = m[i] * b1 + one_b1 * gi;
        const T vi = v[i] * b2 + (gi * one_b2) * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay + (mi * neg_step) / (std::sqrt(vi) / sqrt_bc2 + eps);
      }
    });
  });
}

}  // namespace tensor
