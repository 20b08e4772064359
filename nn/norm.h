// norm.h: normalisation layers over the last dim: RMSNorm (scale only, as in Mamba) and LayerNorm.
#pragma once
#include "nn/module.h"

namespace nn {

// y = x / sqrt(mean(x^2) + eps) * weight; weight [d] starts at ones.
class RMSNorm : public UnaryModule {
 public:
  explicit RMSNorm(int64_t d, double eps = 1e-5, tensor::DType dtype = tensor::DType::Float32);
  Variable forward(const Variable& x) override;
  int64_t dim() const { return d_; }
  double eps() const { return eps_; }
  Variable weight() const { return local_parameter("weight"); }
  std::string extra_repr() const override;

 private:
  int64_t d_;
  double eps_;
};

// y = (x - mean) / sqrt(var + eps) * weight + bias (population variance); with `affine`, weight [d]
// starts at ones and bias [d] at zeros, without it there are no parameters.
class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(int64_t d, double eps = 1e-5, bool affine = true, tensor::DType dtype = tensor::DType::Float32);
  Variable forward(const Variable& x) override;
  int64_t dim() const { return d_; }
  double eps() const { return eps_; }
  bool affine() const { return has_parameter("weight"); }
  std::string extra_repr() const override;

 private:
  int64_t d_;
  double eps_;
};

}  // namespace nn
