// adamw.h: Adam with decoupled weight decay (Loshchilov & Hutter), in torch.optim.AdamW's order:
//   t += 1
//   p = p * (1 - lr * wd)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
//   p = p - (lr / (1 - beta1^t)) * m / denom
#pragma once
#include "nn/optim/optimizer.h"

namespace nn::optim {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

class AdamW : public Optimizer {
 public:
  // Group options: "beta1", "beta2", "eps".
  explicit AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults = {});
  explicit AdamW(const std::vector<Variable>& params, const AdamWOptions& defaults = {});
  void step() override;

 protected:
  std::vector<std::string> buffer_names(const ParamGroup&) const override { return {"exp_avg", "exp_avg_sq"}; }
  void validate_group(const ParamGroup& g, size_t index) const override;
};

}  // namespace nn::optim
