// selective.cpp: the paper's selective fine-tuning baselines (prodial-method.md §2): no adapter, the
// method only picks which parameters stay trainable (every parameter a target pattern matches, by its
// own name or a module name above it). Default targets:
//   full       everything
//   head       the classifier head (Vim "head"); for an LM, lm_head, which is tied to the token
//              embedding in Mamba checkpoints, so it trains the shared embedding matrix
//   ssm        x_proj, dt_proj (weight and bias), A_log, D; in Vim also the reversed branch's x_proj_b,
//              dt_proj_b, A_b_log, D_b (conv1d excluded, matching the paper's 5.38M for Mamba-130M)
//   in-proj / out-proj / both-proj   the projector weights, fully trained
#include "prodial/registry.h"
#include "prodial/tuner.h"

namespace prodial {

namespace {

MethodSpec selective(std::string name, std::string description,
                     std::function<std::vector<std::string>(ModelKind)> targets) {
  MethodSpec m;
  m.name = std::move(name);
  m.description = std::move(description);
  m.peft_type = "SELECTIVE";
  m.default_targets = std::move(targets);
  return m;
}

std::vector<std::string> mixer_patterns(ModelKind kind, const std::vector<std::string>& names) {
  return projector_patterns(kind, names);
}

}  // namespace

MethodSpec full_method() {
  return selective("full", "full fine-tuning: every parameter trainable", [](ModelKind) {
    return std::vector<std::string>{"**"};
  });
}

MethodSpec head_method() {
  return selective("head", "head only (linear probe); for an LM the tied lm_head / embedding matrix", [](ModelKind kind) {
    return std::vector<std::string>{kind == ModelKind::Vision ? "head" : "lm_head"};
  });
}

MethodSpec ssm_method() {
  return selective("ssm", "SSM parameters only: x_proj, dt_proj, A_log, D (Vim: both directions)", [](ModelKind kind) {
    std::vector<std::string> names = {"x_proj", "dt_proj", "A_log", "D"};
    if (kind == ModelKind::Vision)
      for (const char* n : {"x_proj_b", "dt_proj_b", "A_b_log", "D_b"}) names.push_back(n);
    return mixer_patterns(kind, names);
  });
}

MethodSpec in_proj_method() {
  return selective("in-proj", "in_proj weights fully trained", [](ModelKind kind) {
    return mixer_patterns(kind, {"in_proj"});
  });
}

MethodSpec out_proj_method() {
  return selective("out-proj", "out_proj weights fully trained", [](ModelKind kind) {
    return mixer_patterns(kind, {"out_proj"});
  });
}

MethodSpec both_proj_method() {
  return selective("both-proj", "in_proj and out_proj weights fully trained", [](ModelKind kind) {
    return mixer_patterns(kind, {"in_proj", "out_proj"});
  });
}

}  // namespace prodial
