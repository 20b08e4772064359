// linear.h: Linear, the affine layer y = x W^T + b over the last dim of any input, with PyTorch's
// layout (weight [out, in]) and default initialisation; and `linear`, the same as a function.
#pragma once
#include "nn/module.h"
#include "tensor/generator.h"

namespace nn {

// y = x W^T + b; x [..., in], w [out, in], b [out] or undefined -> [..., out].
Variable linear(const Variable& x, const Variable& w, const Variable& b);

class Linear : public UnaryModule {
 public:
  // weight ~ kaiming_uniform(a = sqrt 5) = U(+-1/sqrt(in)), bias ~ U(+-1/sqrt(in)), as nn.Linear.
  Linear(int64_t in_features, int64_t out_features, bool bias = true, tensor::Generator* gen = nullptr,
         tensor::DType dtype = tensor::DType::Float32);
  Variable forward(const Variable& x) override;

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  bool has_bias() const { return has_parameter("bias"); }
  Variable weight() const { return local_parameter("weight"); }
  Variable bias() const { return has_bias() ? local_parameter("bias") : Variable(); }
  std::string extra_repr() const override;

 private:
  int64_t in_, out_;
};

}  // namespace nn
