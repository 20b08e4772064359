// sgd.h: stochastic gradient descent with momentum, dampening, Nesterov momentum and (coupled, L2)
// weight decay, exactly as torch.optim.SGD:
//   d = g + wd * p
//   buf = d (first update) or buf = momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf          (when momentum != 0)
//   p = p - lr * d
#pragma once
#include "nn/optim/optimizer.h"

namespace nn::optim {

struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};

class SGD : public Optimizer {
 public:
  // Group options: "momentum", "dampening", "nesterov" (0 or 1).
  explicit SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults = {});
  explicit SGD(const std::vector<Variable>& params, const SGDOptions& defaults = {});
  void step() override;

 protected:
  std::vector<std::string> buffer_names(const ParamGroup& g) const override;
  void validate_group(const ParamGroup& g, size_t index) const override;
};

}  // namespace nn::optim
