// linear.cpp: Linear's initialisation and forward.
#include "nn/linear.h"

#include <cmath>

#include "autograd/ops.h"
#include "nn/init.h"
#include "tensor/ops.h"

namespace nn {

Variable linear(const Variable& x, const Variable& w, const Variable& b) {
  if (!x.defined() || !w.defined()) throw std::invalid_argument("linear: input and weight must be defined");
  if (w.dim() != 2) throw std::invalid_argument("linear: weight must be 2-d [out, in], got " + tensor::shape_str(w.shape()));
  if (x.dim() < 1 || x.size(-1) != w.size(1))
    throw std::invalid_argument("linear: input of shape " + tensor::shape_str(x.shape()) + " does not match weight " +
                                tensor::shape_str(w.shape()) + " (the input's last dim must be " +
                                std::to_string(w.size(1)) + ")");
  if (b.defined() && (b.dim() != 1 || b.size(0) != w.size(0)))
    throw std::invalid_argument("linear: bias of shape " + tensor::shape_str(b.shape()) + " for weight " +
                                tensor::shape_str(w.shape()) + " (expected [" + std::to_string(w.size(0)) + "])");
  // The transposed view reaches the GEMM as a flag, not a copy.
  Variable y = autograd::matmul(x, autograd::transpose(w, 0, 1));
  return b.defined() ? autograd::add(y, b) : y;
}

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, tensor::Generator* gen, tensor::DType dtype)
    : UnaryModule("Linear"), in_(in_features), out_(out_features) {
  if (in_features <= 0 || out_features <= 0)
    throw std::invalid_argument("Linear: in_features and out_features must be positive, got " +
                                std::to_string(in_features) + " and " + std::to_string(out_features));
  Tensor w = Tensor::empty({out_features, in_features}, dtype);
  init::kaiming_uniform_(w, gen, std::sqrt(5.0));
  register_parameter("weight", w);
  if (bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    Tensor b = Tensor::empty({out_features}, dtype);
    init::uniform_(b, gen, -bound, bound);
    register_parameter("bias", b);
  }
}

Variable Linear::forward(const Variable& x) {
  if (x.dim() < 1 || x.size(-1) != in_)
    throw std::invalid_argument("Linear: input of shape " + tensor::shape_str(x.shape()) + " has last dim " +
                                (x.dim() ? std::to_string(x.size(-1)) : std::string("(none)")) + ", expected " +
                                std::to_string(in_) + " (in_features)");
  return linear(x, weight(), bias());
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_) + ", out_features=" + std::to_string(out_) +
         ", bias=" + (has_bias() ? "true" : "false");
}

}  // namespace nn
