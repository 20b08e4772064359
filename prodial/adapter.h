// adapter.h: Adapter, the contract every adapter method fulfils. An adapter is an nn::UnaryModule that
// takes the place of one nn::Linear in the model tree: it registers that Linear as its child "base"
// (so the frozen weight keeps the dotted name "<module>.base.weight") and adds its own parameters
// beside it. It provides:
//   forward(x)            the adapted layer's output;
//   adapter_parameters()  what it trains (its parameters outside "base.");
//   merged_weight()       the weight of one plain Linear computing the same function (no graph);
//   merged_bias()         its bias (default: the base bias, unchanged);
//   merge()               that plain Linear;
//   adapter_state() / load_adapter_state()  its tensors under Hugging Face peft's relative names
//                         ("lora_A.weight", "lora_B.weight", "lora_magnitude_vector", "prodial_R", ...).
// By default the file names are the adapter's own parameter names, so registering parameters and
// child modules under peft's names is all a method needs for saving and loading.
//
// Also here: LoraBranch, the low-rank branch scale · B A dropout(x) shared by the LoRA, DoRA and
// ProDiaL adapters (children "lora_A" [r, d_in] and "lora_B" [d_out, r], peft's names and init).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/linear.h"
#include "nn/module.h"
#include "tensor/generator.h"

namespace prodial {

using autograd::Variable;
using tensor::Tensor;

class Adapter : public nn::UnaryModule {
 public:
  // `type_name` is what summaries print ("LoRA"); `method` the registry name ("lora"). The base is
  // not frozen here (apply_peft freezes the whole model before putting adapters in).
  Adapter(std::string type_name, std::string method, std::shared_ptr<nn::Linear> base);

  const std::string& method() const { return method_; }
  std::shared_ptr<nn::Linear> base() const { return child<nn::Linear>("base"); }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

  // The parameters the adapter adds (not the base's), names relative to the adapter.
  std::vector<std::pair<std::string, Variable>> adapter_parameters() const;
  // [d_out, d_in] weight of the merged plain Linear, computed without a graph.
  virtual Tensor merged_weight() const = 0;
  // [d_out] bias of that Linear, or undefined for none (default: a copy of the base bias).
  virtual Tensor merged_bias() const;
  // A fresh nn::Linear holding merged_weight() and merged_bias(), on the base's device and dtype, with
  // requires_grad off.
  std::shared_ptr<nn::Linear> merge() const;

  // The adapter's tensors under peft's relative names (default: adapter_parameters()).
  virtual std::map<std::string, Tensor> adapter_state() const;
  // Loads tensors with the names and shapes adapter_state() has, converting dtype and device. Throws
  // std::runtime_error "<where>: ..." naming the missing, unexpected or mis-shaped tensor; nothing is
  // copied then.
  virtual void load_adapter_state(const std::map<std::string, Tensor>& state, const std::string& where);

 private:
  std::string method_;
  int64_t in_, out_;
};

// scale · B A dropout(x), registered on `owner` as the children lora_A (nn::Linear d_in -> r, peft's
// kaiming_uniform(a = sqrt 5) init from `gen`) and lora_B (r -> d_out, zeros). Dropout draws from
// `dropout_gen` (the default generator when null) and only in training mode.
class LoraBranch {
 public:
  LoraBranch() = default;
  LoraBranch(nn::Module& owner, int64_t d_in, int64_t d_out, int64_t rank, double alpha, double dropout,
             tensor::Generator* gen, std::shared_ptr<tensor::Generator> dropout_gen, tensor::DType dtype);
  // dropout(x) when `training` and dropout > 0, else x itself (the same Variable).
  Variable dropped(const Variable& x, bool training) const;
  // scale · B (A xd) for an already dropped input.
  Variable apply(const Variable& xd) const;
  Variable A() const { return A_->weight(); }
  Variable B() const { return B_->weight(); }
  // scale · B A [d_out, d_in], no graph.
  Tensor delta() const;
  int64_t rank() const { return rank_; }
  double alpha() const { return alpha_; }
  double scale() const { return alpha_ / static_cast<double>(rank_); }
  double dropout() const { return dropout_; }

 private:
  std::shared_ptr<nn::Linear> A_, B_;
  int64_t rank_ = 0;
  double alpha_ = 0, dropout_ = 0;
  std::shared_ptr<tensor::Generator> dropout_gen_;
};

// "r=16, alpha=8, dropout=0.1": the LoRA part of an adapter's summary line.
std::string lora_repr(const LoraBranch& lora);

}  // namespace prodial
