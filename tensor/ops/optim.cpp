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
void adamw_by_ops(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const AdamWScalars<double>& c) {
  mul_(p, c.decay);
  mul_(m, c.b1);
  add_(m, g, c.one_b1);
  mul_(v, c.b2);
  add_(v, mul(mul(g, c.one_b2), g));
  Tensor denom = add(div(sqrt(v), scalar_tensor(c.sqrt_bc2, p.dtype(), p.device())), c.eps);
  add_(p, div(mul(m, c.neg_step), denom));
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
  if (!(param.is_contiguous() && grad.is_contiguous() && exp_avg.is_contiguous() && exp_avg_sq.is_contiguous())) {
    adamw_by_ops(param, grad, exp_avg, exp_avg_sq, adamw_scalars<double>(s));
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
    const AdamWScalars<T> c = adamw_scalars<T>(s);
    cpu::parallel_for(param.numel(), 8, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const T gi = g[i];
        const T mi = m[i] * c.b1 + c.one_b1 * gi;
        const T vi = v[i] * c.b2 + (gi * c.one_b2) * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * c.decay + (mi * c.neg_step) / (std::sqrt(vi) / c.sqrt_bc2 + c.eps);
      }
    });
  });
}

}  // namespace tensor
