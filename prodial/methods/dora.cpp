// dora.cpp: DoRA (Liu et al. 2024) as Hugging Face peft implements it (use_dora=True): a magnitude
// vector m [d_out] times the row-normalised direction of W + (α/r) B A. peft's forward, which we follow:
//   g = m / ||W + (α/r) B A||_row   (the norm detached from the graph, DoRA paper §4.3)
//   y = W x + b + (g - 1) ⊙ W xd + g ⊙ (α/r) B A xd,   xd = dropout(x)
// so without dropout y = g ⊙ ((W + (α/r) B A) x) + b, and the merged weight is
// diag(g) (W + (α/r) B A). m starts at the row norms of W (B = 0), so the layer starts as W.
// File names: "lora_A.weight", "lora_B.weight", "lora_magnitude_vector" [d_out] (peft's).
#include "autograd/grad_mode.h"
#include "prodial/adapter_files.h"
#include "prodial/functional.h"
#include "prodial/registry.h"
#include "prodial/tuner.h"

namespace prodial {

namespace {

class DoraAdapter : public Adapter {
 public:
  explicit DoraAdapter(const AdapterRequest& req) : Adapter("DoRA", "dora", req.base) {
    const PeftOptions& o = *req.opts;
    lora_ = LoraBranch(*this, in_features(), out_features(), o.rank, o.alpha, o.dropout, req.gen, req.dropout_gen,
                       base()->weight().dtype());
    autograd::NoGradGuard no_grad;
    register_parameter("lora_magnitude_vector",
                       dora_weight_norm(base()->weight(), lora_.A(), lora_.B(), lora_.scale()).data().clone());
  }
  Variable forward(const Variable& x) override {
    const auto b = base();
    return dora_linear(x, lora_.dropped(x, is_training()), b->weight(), b->bias(), lora_.A(), lora_.B(),
                       local_parameter("lora_magnitude_vector"), lora_.scale(), /*detach_norm=*/true);
  }
  Tensor merged_weight() const override {
    return dora_merged_weight(base()->weight().data(), lora_.A().data(), lora_.B().data(),
                              local_parameter("lora_magnitude_vector").data(), lora_.scale());
  }
  std::string extra_repr() const override { return lora_repr(lora_); }

 private:
  LoraBranch lora_;
};

}  // namespace

MethodSpec dora_method() {
  MethodSpec m;
  m.name = "dora";
  m.description = "DoRA on the projectors: magnitude m times the row-normalised W + (alpha/r) B A (peft's use_dora)";
  m.peft_type = "LORA";
  m.default_targets = [](ModelKind kind) { return projector_patterns(kind, {"in_proj", "out_proj"}); };
  m.make_adapter = [](const AdapterRequest& req) { return std::make_shared<DoraAdapter>(req); };
  m.validate = validate_lora_options;
  m.write_config = [](const PeftOptions& o, nlohmann::json& j) { write_lora_fields(o, j, true); };
  m.read_config = read_lora_fields;
  return m;
}

}  // namespace prodial
