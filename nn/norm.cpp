// norm.cpp: RMSNorm and LayerNorm over the fused autograd kernels.
#include "nn/norm.h"

#include <sstream>

#include "autograd/ops.h"
#include "tensor/ops.h"

namespace nn {

namespace {

void check_last_dim(const char* layer, const Variable& x, int64_t d) {
  if (!x.defined()) throw std::invalid_argument(std::string(layer) + ": input is undefined");
  if (x.dim() < 1 || x.size(-1) != d)
    throw std::invalid_argument(std::string(layer) + ": input of shape " + tensor::shape_str(x.shape()) +
                                " does not end in the normalised size " + std::to_string(d));
}

void check_args(const char* layer, int64_t d, double eps) {
  if (d <= 0) throw std::invalid_argument(std::string(layer) + ": size must be positive, got " + std::to_string(d));
  if (!(eps >= 0)) throw std::invalid_argument(std::string(layer) + ": eps must be >= 0, got " + std::to_string(eps));
}

std::string eps_str(double eps) {
  std::ostringstream os;
  os << eps;
  return os.str();
}

}  // namespace

RMSNorm::RMSNorm(int64_t d, double eps, tensor::DType dtype) : UnaryModule("RMSNorm"), d_(d), eps_(eps) {
  check_args("RMSNorm", d, eps);
  register_parameter("weight", tensor::ones({d}, dtype));
}

Variable RMSNorm::forward(const Variable& x) {
  check_last_dim("RMSNorm", x, d_);
  return autograd::rms_norm(x, weight(), eps_);
}

std::string RMSNorm::extra_repr() const { return std::to_string(d_) + ", eps=" + eps_str(eps_); }

LayerNorm::LayerNorm(int64_t d, double eps, bool affine, tensor::DType dtype)
    : UnaryModule("LayerNorm"), d_(d), eps_(eps) {
  check_args("LayerNorm", d, eps);
  if (affine) {
    register_parameter("weight", tensor::ones({d}, dtype));
    register_parameter("bias", tensor::zeros({d}, dtype));
  }
}

Variable LayerNorm::forward(const Variable& x) {
  check_last_dim("LayerNorm", x, d_);
  if (!affine()) return autograd::layer_norm(x, Variable(), Variable(), eps_);
  return autograd::layer_norm(x, local_parameter("weight"), local_parameter("bias"), eps_);
}

std::string LayerNorm::extra_repr() const {
  return std::to_string(d_) + ", eps=" + eps_str(eps_) + ", affine=" + (affine() ? "true" : "false");
}

}  // namespace nn
