// clip_grad.cpp: global gradient norm and clipping.
#include "nn/optim/clip_grad.h"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "autograd/grad_mode.h"
#include "tensor/ops.h"

namespace nn::optim {

double grad_norm(const std::vector<autograd::Variable>& params, double norm_type) {
  if (!(norm_type >= 1))
    throw std::invalid_argument("grad_norm: norm_type must be >= 1 (or infinity), got " + std::to_string(norm_type));
  // One value per gradient (its max |g|, sum g^2 or sum |g|^p), left on the gradient's device and
  // combined there, so the whole norm costs one device-to-host read instead of one per parameter.
  const bool inf = std::isinf(norm_type);
  std::vector<tensor::Tensor> parts;
  for (const auto& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    const tensor::Tensor& g = p.grad();
    if (g.numel() == 0) continue;
    tensor::Tensor part = inf                ? tensor::max_all(tensor::abs(g))
                          : norm_type == 2.0 ? tensor::sum(tensor::mul(g, g))
                                             : tensor::sum(tensor::pow(tensor::abs(g), norm_type));
    parts.push_back(part.reshape({1}));
  }
  if (parts.empty()) return 0.0;
  bool mixed = false;  // dtypes or devices (rare): then combine in float64 on the first one's device
  for (const auto& part : parts) mixed |= part.dtype() != parts[0].dtype() || part.device() != parts[0].device();
  if (mixed) {
    const tensor::Device first = parts[0].device();
    for (auto& part : parts) part = part.to(first).to(tensor::DType::Float64);
  }
  tensor::Tensor all = tensor::cat(parts, 0).to(tensor::DType::Float64);
  const double total = (inf ? tensor::max_all(all) : tensor::sum(all)).item<double>();
  if (inf) return total;
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
