// contract_test.cpp: every registered method (method_names(), which includes the "ia3" example of
// docs/ADDING_A_PEFT_METHOD.md registered by ia3_example_test.cpp), on a tiny LM and a tiny Vision
// Mamba, goes through the same checks:
//   1. right after apply_peft the model computes what the base model computes;
//   2. a backward pass gives gradients to the trainable parameters and to nothing else, and only the
//      method's parameters (plus the Vim head) are trainable;
//   3. after perturbing the trainable parameters, merge_peft gives a plain model computing the same;
//   4. save_adapter / load_adapter onto a fresh base model reproduces the adapted model.
#include <gtest/gtest.h>

#include <set>

#include "autograd/grad_mode.h"
#include "common/test_util.h"
#include "prodial/adapter.h"
#include "prodial/registry.h"
#include "prodial/tuner.h"
#include "prodial_test_util.h"

namespace {

using mamba_test::rel_err;
using prodial_test::ModelKind;
using prodial_test::TinyModel;

struct ContractCase {
  std::string method;
  ModelKind kind;
};

std::vector<ContractCase> all_cases() {
  std::vector<ContractCase> out;
  for (const auto& m : prodial::method_names())
    for (ModelKind k : {ModelKind::LanguageModel, ModelKind::Vision}) out.push_back({m, k});
  return out;
}

class MethodContract : public ::testing::TestWithParam<ContractCase> {};

TEST_P(MethodContract, Holds) {
  const auto& [method, kind] = GetParam();
  const prodial::MethodSpec& spec = prodial::find_method(method);
  const prodial::PeftOptions opts = prodial_test::small_options();
  TinyModel base(kind, 42), model(kind, 42);
  base.module().eval();
  autograd::Tensor y0;
  {
    autograd::NoGradGuard ng;
    y0 = base.forward().data();
  }

  // 1. identity at initialisation
  prodial::PeftSummary s = prodial::apply_peft(model.module(), kind, method, opts);
  EXPECT_EQ(s.method, method);
  EXPECT_EQ(s.adapted.empty(), !spec.is_adapter());
  EXPECT_GT(s.trainable_params, 0);
  model.module().eval();
  {
    autograd::NoGradGuard ng;
    EXPECT_LE(rel_err(model.forward().data(), y0), 1e-12);
  }

  // 2. gradients reach exactly the trainable parameters; adapter methods train only adapter tensors
  //    (and the Vim head)
  model.module().train();
  model.loss().backward();
  std::set<std::string> trainable(s.trainable.begin(), s.trainable.end());
  std::set<std::string> adapter_params;  // what the adapters added (not their base Linear)
  for (auto& [an, a] : prodial::find_adapters(model.module()))
    for (auto& [pn, v] : a->adapter_parameters()) adapter_params.insert(an + "." + pn);
  int64_t counted = 0;
  for (auto& [name, v] : model.module().named_parameters()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(v.requires_grad(), trainable.count(name) == 1);
    EXPECT_EQ(v.grad().defined(), v.requires_grad());
    if (v.requires_grad()) counted += v.numel();
    if (spec.is_adapter() && v.requires_grad()) {
      const bool adapter_param = adapter_params.count(name) == 1;
      const bool head = kind == ModelKind::Vision && name.rfind("head.", 0) == 0;
      EXPECT_TRUE(adapter_param || head);
    }
  }
  for (auto& n : adapter_params) EXPECT_EQ(trainable.count(n), 1u) << n << " is an adapter parameter but frozen";
  EXPECT_EQ(counted, s.trainable_params);
  EXPECT_EQ(model.module().num_parameters(), s.total_params);

  // 3. perturb what is trainable; merged == unmerged
  tensor::Generator g(5);
  {
    autograd::NoGradGuard ng;
    for (auto& [name, v] : model.module().named_trainable_parameters())
      v.set_data(tensor::add(v.data(), tensor::randn(v.shape(), v.dtype(), &g, 0.0, 0.1)));
  }
  model.module().eval();
  autograd::Tensor y2;
  {
    autograd::NoGradGuard ng;
    y2 = model.forward().data();
  }
  EXPECT_GT(rel_err(y2, y0), 1e-6) << "perturbing the trainable parameters changed nothing";

  // 4. save / load round trip onto a fresh base
  mamba_test::TempDir dir("prodial_contract_" + method + (kind == ModelKind::Vision ? "_vim" : "_lm"));
  prodial::save_adapter(model.module(), s, opts, dir.path(), "tiny");
  TinyModel fresh(kind, 42);
  prodial::PeftSummary s2 = prodial::load_adapter(fresh.module(), kind, dir.path());
  EXPECT_EQ(s2.method, method);
  EXPECT_EQ(s2.trainable, s.trainable);
  EXPECT_EQ(s2.trainable_params, s.trainable_params);
  EXPECT_EQ(s2.adapted, s.adapted);
  fresh.module().eval();
  {
    autograd::NoGradGuard ng;
    EXPECT_LE(rel_err(fresh.forward().data(), y2), 1e-12);
  }

  // 3'. merge
  const int merged = prodial::merge_peft(model.module());
  EXPECT_EQ(merged, static_cast<int>(s.adapted.size()));
  EXPECT_TRUE(prodial::find_adapters(model.module()).empty());
  {
    autograd::NoGradGuard ng;
    EXPECT_LE(rel_err(model.forward().data(), y2), 1e-10);
  }
  // the merged model has the base model's parameter names and shapes again
  auto names = [](nn::Module& m) {
    std::vector<std::pair<std::string, tensor::Shape>> out;
    for (auto& [n, v] : m.named_parameters()) out.emplace_back(n, v.shape());
    return out;
  };
  EXPECT_EQ(names(model.module()), names(base.module()));
}

INSTANTIATE_TEST_SUITE_P(AllMethods, MethodContract, ::testing::ValuesIn(all_cases()), [](const auto& info) {
  std::string n = info.param.method + (info.param.kind == ModelKind::Vision ? "_vim" : "_lm");
  for (auto& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
});

TEST(MethodContract, EveryIssueMethodIsRegistered) {
  const auto names = prodial::method_names();
  for (const char* m : {"prodial", "lora", "dora", "full", "head", "ssm", "in-proj", "out-proj", "both-proj"})
    EXPECT_NE(std::find(names.begin(), names.end(), m), names.end()) << m;
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

}  // namespace
