// lora.cpp: LoRA (Hu et al. 2021) as Hugging Face peft implements it: y = W x + b + (α/r) B A dropout(x),
// A [r, d_in] kaiming_uniform(a = √5), B [d_out, r] zeros; merged weight W + (α/r) B A. Tensors and
// adapter_config.json are peft's ("lora_A.weight", "lora_B.weight"; peft_type "LORA").
#include "autograd/ops.h"
#include "prodial/adapter_files.h"
#include "prodial/registry.h"
#include "prodial/tuner.h"
#include "tensor/ops.h"

namespace prodial {

namespace {

class LoraAdapter : public Adapter {
 public:
  explicit LoraAdapter(const AdapterRequest& req) : Adapter("LoRA", "lora", req.base) {
    const PeftOptions& o = *req.opts;
    lora_ = LoraBranch(*this, in_features(), out_features(), o.rank, o.alpha, o.dropout, req.gen, req.dropout_gen,
                       base()->weight().dtype());
  }
  Variable forward(const Variable& x) override {
    return autograd::add(base()->forward(x), lora_.apply(lora_.dropped(x, is_training())));
  }
  Tensor merged_weight() const override { return tensor::add(base()->weight().data(), lora_.delta()); }
  std::string extra_repr() const override { return lora_repr(lora_); }

 private:
  LoraBranch lora_;
};

}  // namespace

MethodSpec lora_method() {
  MethodSpec m;
  m.name = "lora";
  m.description = "LoRA on the projectors: W + (alpha/r) B A (peft's LoRA)";
  m.peft_type = "LORA";
  m.default_targets = [](ModelKind kind) { return projector_patterns(kind, {"in_proj", "out_proj"}); };
  m.make_adapter = [](const AdapterRequest& req) { return std::make_shared<LoraAdapter>(req); };
  m.validate = validate_lora_options;
  m.write_config = [](const PeftOptions& o, nlohmann::json& j) { write_lora_fields(o, j, false); };
  m.read_config = read_lora_fields;
  return m;
}

}  // namespace prodial
