// prodial.cpp: ProDiaL (Ham et al., CVPR 2025), faithful to the official code
// (../shared/docs/prodial-method.md §1.2). Per adapted projector W [d_out, d_in]:
//   prodial_R [r_b, n, n], n = d_in / r_b (r_b = number of blocks; 0 means d_in), zeros
//   prodial_s [d_out], ones
//   LoRA ε = (α/r) B A with peft's init (B = 0) and dropout on its input
//   D_b = offdiag(blockdiag(R)) + I - diag(relu(diag(blockdiag(R))))
//   y = s ⊙ (W (D_b x)) + b + (α/r) B A dropout(x)
// computed blockwise (functional.h), never forming diag(s) W D_b per step. Merge:
// W <- diag(s) W D_b + (α/r) B A. At initialisation the layer is exactly W.
// r_b: modules whose name ends in "out_proj" use PeftOptions::rb_out, every other target rb_in.
// diag_mode "frozen" (official): relu'(0) = 0 leaves the diagonal at 1 for ever; "trainable" (our
// extension): the diagonal is 1 - r_ii without the relu, so it learns from 1 in both directions.
#include "autograd/ops.h"
#include "prodial/adapter_files.h"
#include "prodial/functional.h"
#include "prodial/registry.h"
#include "prodial/tuner.h"
#include "tensor/ops.h"

namespace prodial {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class ProdialAdapter : public Adapter {
 public:
  explicit ProdialAdapter(const AdapterRequest& req) : Adapter("ProDiaL", "prodial", req.base) {
    const PeftOptions& o = *req.opts;
    const bool out = ends_with(req.module, "out_proj");
    const int64_t d_in = in_features();
    int64_t rb = out ? o.rb_out : o.rb_in;
    if (rb == 0) rb = d_in;
    if (rb < 0 || d_in % rb != 0)
      throw std::invalid_argument(std::string("prodial: ") + (out ? "rb_out" : "rb_in") + "=" + std::to_string(rb) +
                                  " does not divide d_in=" + std::to_string(d_in) + " of " + req.module +
                                  " (r_b is the number of blocks; block size d_in / r_b)");
    trainable_diag_ = o.diag_mode == "trainable";
    const tensor::DType dt = base()->weight().dtype();
    lora_ = LoraBranch(*this, d_in, out_features(), o.rank, o.alpha, o.dropout, req.gen, req.dropout_gen, dt);
    register_parameter("prodial_R", tensor::zeros({rb, d_in / rb, d_in / rb}, dt));
    register_parameter("prodial_s", tensor::ones({out_features()}, dt));
  }
  Variable forward(const Variable& x) override {
    const auto b = base();
    Variable y = prodial_linear(x, b->weight(), b->bias(), local_parameter("prodial_R"),
                                local_parameter("prodial_s"), trainable_diag_);
    return autograd::add(y, lora_.apply(lora_.dropped(x, is_training())));
  }
  Tensor merged_weight() const override {
    return tensor::add(prodial_merged_weight(base()->weight().data(), local_parameter("prodial_R").data(),
                                             local_parameter("prodial_s").data(), trainable_diag_),
                       lora_.delta());
  }
  std::string extra_repr() const override {
    const auto& R = local_parameter("prodial_R");
    return "blocks=" + std::to_string(R.size(0)) + "x" + std::to_string(R.size(1)) + ", " + lora_repr(lora_) +
           ", diag=" + (trainable_diag_ ? "trainable" : "frozen");
  }

 private:
  LoraBranch lora_;
  bool trainable_diag_ = false;
};

}  // namespace

MethodSpec prodial_method() {
  MethodSpec m;
  m.name = "prodial";
  m.description = "ProDiaL: s * (W D_b x) + LoRA, block-diagonal D_b (rb_in / rb_out blocks) on the projectors";
  m.peft_type = "PRODIAL";
  m.default_targets = [](ModelKind kind) { return projector_patterns(kind, {"in_proj", "out_proj"}); };
  m.make_adapter = [](const AdapterRequest& req) { return std::make_shared<ProdialAdapter>(req); };
  m.validate = [](const PeftOptions& o) {
    validate_lora_options(o);
    if (o.diag_mode != "frozen" && o.diag_mode != "trainable")
      throw std::invalid_argument("prodial: diag_mode must be \"frozen\" or \"trainable\", got \"" + o.diag_mode + "\"");
    if (o.rb_in < 0 || o.rb_out < 0)
      throw std::invalid_argument("prodial: rb_in and rb_out must be >= 0 (0 = d_in), got " + std::to_string(o.rb_in) +
                                  " and " + std::to_string(o.rb_out));
  };
  m.write_config = [](const PeftOptions& o, nlohmann::json& j) {
    j["r"] = o.rank;
    j["lora_alpha"] = o.alpha;
    j["lora_dropout"] = o.dropout;
    j["rb_in"] = o.rb_in;
    j["rb_out"] = o.rb_out;
    j["diag_mode"] = o.diag_mode;
  };
  m.read_config = [](const nlohmann::json& j, PeftOptions& o) {
    o.rank = j.at("r").get<int64_t>();
    o.alpha = j.at("lora_alpha").get<double>();
    o.dropout = j.value("lora_dropout", 0.0);
    o.rb_in = j.value("rb_in", int64_t{0});
    o.rb_out = j.value("rb_out", int64_t{0});
    o.diag_mode = j.value("diag_mode", std::string("frozen"));
  };
  return m;
}

}  // namespace prodial
