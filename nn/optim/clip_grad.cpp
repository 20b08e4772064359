// clip_grad.cpp: global gradient norm and clipping.
#include "nn/optim/clip_grad.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "tensor/ops.h"

namespace nn::optim {

double grad_norm(const std::vector<autograd::Variable>& params, double norm_type) {
  if (!(norm_type >= 1))
    throw std::invalid_argument("grad_norm: norm_type must be >= 1 (or infinity), got " + std::to_string(norm_type));
  double total = 0;
  for (const auto& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    const tensor::Tensor& g = p.grad();
    if (std::isinf(norm_type)) {
      if (g.numel() > 0) total = std::max(total, tensor::max_all(tensor::abs(g)).item<double>());
    } else if (norm_type == 2.0) {
      // Per-tensor norm first, as torch.norm(stack(norms)), so sums stay short.
      double n = std::sqrt(tensor::sum(tensor::mul(g, g)).item<double>());
      total += n * n;
    } else {
      total += tensor::sum(tensor::pow(tensor::abs(g), norm_type)).item<double>();
    }
  }
  if (std::isinf(norm_type)) return total;
  return norm_type == 2.0 ? std::sqrt(total) : std::pow(total, 1.0 / norm_type);
}

double clip_grad_norm(const std::vector<autograd::Variable>& params, double max_norm, double norm_type,
                      bool error_if_nonfinite) {
  if (!(max_norm >= 0)) {
    std::ostringstream os;
    os << "clip_grad_norm: max_norm must be >= 0, got " << max_norm;
    throw std::invalid_argument(os.str());
  }
  autograd::NoGradGuard no_grad;
  const double total = grad_norm(params, norm_type);
  if (error_if_nonfinite && !std::isfinite(total)) {
    std::ostringstream os;
    os << "clip_grad_norm: the total norm of the gradients is " << total
       << " (non-finite); set error_if_nonfinite = false to clip anyway";
    throw std::runtime_error(os.str());
  }
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for (const auto& p : params)
      if (p.defined() && p.grad().defined()) tensor::mul_(p.grad(), coef);
  return total;
}

}  // namespace nn::optim
