// dropout.h: Dropout, inverted dropout during training (each element kept with probability 1 - p and
// scaled by 1 / (1 - p)), the identity in eval mode. The mask comes from a seeded tensor::Generator.
#pragma once
#include <memory>

#include "nn/module.h"
#include "tensor/generator.h"

namespace nn {

// The function form: in training, x * mask / (1 - p) with mask ~ Bernoulli(1 - p) drawn from `gen`
// (the default generator when null); otherwise x itself.
Variable dropout(const Variable& x, double p, bool training, tensor::Generator* gen = nullptr);

class Dropout : public UnaryModule {
 public:
  // `gen` may be shared with other modules; null means the process-wide default generator.
  explicit Dropout(double p = 0.5, std::shared_ptr<tensor::Generator> gen = nullptr);
  Variable forward(const Variable& x) override;
  double p() const { return p_; }
  // The generator masks are drawn from (the default generator when none was given).
  tensor::Generator& generator() const;
  std::string extra_repr() const override;

 private:
  double p_;
  std::shared_ptr<tensor::Generator> gen_;
};

}  // namespace nn
