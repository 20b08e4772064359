// tuner_test.cpp: target patterns, what apply_peft adapts and freezes, its errors (unknown method,
// a pattern matching nothing, bad options, adapting twice, a weight-read Linear), the optimizer
// seeing only trainable parameters, the frozen ProDiaL diagonal surviving AdamW, and the summary.
#include <gtest/gtest.h>

#include "common/test_util.h"
#include "nn/optim/adamw.h"
#include "nn/optim/param_groups.h"
#include "prodial/adapter.h"
#include "prodial/registry.h"
#include "prodial/tuner.h"
#include "prodial_test_util.h"

namespace {

using pm_test::throws_with;
using prodial::pattern_matches;
using prodial_test::ModelKind;
using prodial_test::TinyModel;

TEST(Patterns, GlobRegexAndSuffixes) {
  const std::string in0 = "backbone.layers.0.mixer.in_proj";
  EXPECT_TRUE(pattern_matches("in_proj", in0));
  EXPECT_TRUE(pattern_matches("mixer.in_proj", in0));
  EXPECT_TRUE(pattern_matches("layers.*.mixer.in_proj", in0));
  EXPECT_TRUE(pattern_matches("backbone.layers.*.mixer.in_proj", in0));
  EXPECT_TRUE(pattern_matches("*_proj", in0));
  EXPECT_TRUE(pattern_matches("layers.**.in_proj", in0));
  EXPECT_TRUE(pattern_matches("layers.?.mixer.in_proj", in0));
  EXPECT_FALSE(pattern_matches("layers.*.in_proj", in0));  // * stays inside one component
  EXPECT_FALSE(pattern_matches("proj", in0));              // suffixes start at a component boundary
  EXPECT_FALSE(pattern_matches("in_proj", "backbone.layers.0.mixer.in_proj_b"));
  EXPECT_FALSE(pattern_matches("n_proj", in0));
  EXPECT_TRUE(pattern_matches("re:.*\\.1\\.mixer\\.(in|out)_proj", "backbone.layers.1.mixer.out_proj"));
  EXPECT_FALSE(pattern_matches("re:in_proj", in0));  // regexes match the whole name
  EXPECT_TRUE(throws_with([] { pattern_matches("re:(", "x"); }, {"re:("}));
  EXPECT_TRUE(throws_with([] { pattern_matches("", "x"); }, {"empty"}));
  EXPECT_EQ(prodial::layer_index(in0), 0);
  EXPECT_EQ(prodial::layer_index("layers.17.mixer.A_log"), 17);
  EXPECT_EQ(prodial::layer_index("head.weight"), -1);
}

TEST(Tuner, DefaultTargetsAdaptBothProjectorsOfEveryLayer) {
  for (ModelKind kind : {ModelKind::LanguageModel, ModelKind::Vision}) {
    TinyModel m(kind, 1);
    auto s = prodial::apply_peft(m.module(), kind, "prodial", prodial_test::small_options());
    const std::string p = kind == ModelKind::Vision ? "" : "backbone.";
    std::vector<std::string> expected = {p + "layers.0.mixer.in_proj", p + "layers.0.mixer.out_proj",
                                         p + "layers.1.mixer.in_proj", p + "layers.1.mixer.out_proj"};
    std::vector<std::string> got;
    for (auto& [name, type] : s.adapted) got.push_back(name);
    EXPECT_EQ(got, expected);
    // the base weight keeps its dotted name under the adapter, frozen
    auto w = m.module().parameter(p + "layers.0.mixer.in_proj.base.weight");
    EXPECT_FALSE(w.requires_grad());
    // R's shape follows rb_in = 4 (d_in 16 -> blocks of 4) and rb_out = 0 (diagonal, d_in 32)
    EXPECT_EQ(m.module().parameter(p + "layers.0.mixer.in_proj.prodial_R").shape(), (tensor::Shape{4, 4, 4}));
    EXPECT_EQ(m.module().parameter(p + "layers.0.mixer.out_proj.prodial_R").shape(), (tensor::Shape{32, 1, 1}));
    EXPECT_EQ(m.module().parameter(p + "layers.0.mixer.in_proj.prodial_s").shape(), (tensor::Shape{64}));
    EXPECT_EQ(m.module().parameter(p + "layers.0.mixer.in_proj.lora_A.weight").shape(), (tensor::Shape{2, 16}));
    EXPECT_EQ(m.module().parameter(p + "layers.0.mixer.in_proj.lora_B.weight").shape(), (tensor::Shape{64, 2}));
    // Vim keeps its head trainable; the LM's tied lm_head stays frozen
    if (kind == ModelKind::Vision) EXPECT_TRUE(m.module().parameter("head.weight").requires_grad());
    else EXPECT_FALSE(m.module().parameter("lm_head.weight").requires_grad());
  }
}

TEST(Tuner, LayerSubsetRegexAndCustomTargets) {
  TinyModel m(ModelKind::LanguageModel, 1);
  auto o = prodial_test::small_options();
  o.layers = {1};
  auto s = prodial::apply_peft(m.module(), ModelKind::LanguageModel, "lora", o);
  ASSERT_EQ(s.adapted.size(), 2u);
  EXPECT_EQ(s.adapted[0].first, "backbone.layers.1.mixer.in_proj");

  TinyModel m2(ModelKind::LanguageModel, 1);
  o.layers = {};
  o.targets = {"re:backbone\\.layers\\.0\\.mixer\\.(in|out)_proj", "x_proj"};
  s = prodial::apply_peft(m2.module(), ModelKind::LanguageModel, "lora", o);
  EXPECT_EQ(s.adapted.size(), 4u);  // in/out of layer 0, x_proj of both layers
  m2.forward();                     // x_proj is called as a module, so its adapter runs

  TinyModel m3(ModelKind::LanguageModel, 1);
  s = prodial::apply_peft(m3.module(), ModelKind::LanguageModel, "in-proj", prodial::PeftOptions{});
  EXPECT_EQ(s.trainable, (std::vector<std::string>{"backbone.layers.0.mixer.in_proj.weight",
                                                   "backbone.layers.1.mixer.in_proj.weight"}));
}

TEST(Tuner, Errors) {
  TinyModel m(ModelKind::LanguageModel, 1);
  nn::Module& mod = m.module();
  auto o = prodial_test::small_options();
  EXPECT_TRUE(throws_with([&] { prodial::apply_peft(mod, ModelKind::LanguageModel, "qlora", o); },
                          {"unknown PEFT method 'qlora'", "prodial", "lora"}));
  o.targets = {"in_proj", "nope"};
  EXPECT_TRUE(throws_with([&] { prodial::apply_peft(mod, ModelKind::LanguageModel, "lora", o); },
                          {"'nope'", "lora", "matches no Linear module"}));
  EXPECT_TRUE(throws_with([&] { prodial::apply_peft(mod, ModelKind::LanguageModel, "ssm", o); },
                          {"'nope'", "ssm", "matches no parameter"}));
  o.targets = {};
  o.layers = {5};
  EXPECT_TRUE(throws_with([&] { prodial::apply_peft(mod, ModelKind::LanguageModel, "lora", o); },
                          {"matches no Linear module", "layers [5]"}));
  o.layers = {};
  o.rb_in = 5;
  EXPECT_TRUE(throws_with([&] { prodial::apply_peft(mod, ModelKind::LanguageModel, "prodial", o); },
                          {"rb_in=5", "d_in=16", "backbone.layers.0.mixer.in_proj"}));
  o.rb_in = 4;
  o.diag_mode = "learned";
  EXPECT_TRUE(throws_with([&] { prodial::apply_peft(mod, ModelKind::LanguageModel, "prodial", o); }, {"diag_mode", "learned"}));
  o.diag_mode = "frozen";
  o.rank = 0;
  EXPECT_TRUE(throws_with([&] { prodial::apply_peft(mod, ModelKind::LanguageModel, "lora", o); }, {"rank"}));
  o.rank = 2;
  o.targets = {"dt_proj"};
  EXPECT_TRUE(throws_with([&] { prodial::apply_peft(mod, ModelKind::LanguageModel, "lora", o); }, {"dt_proj", "ssm"}));
  // none of the failures touched the model
  EXPECT_TRUE(prodial::find_adapters(mod).empty());
  EXPECT_EQ(mod.num_trainable_parameters(), mod.num_parameters());
  // adapting twice
  o.targets = {};
  prodial::apply_peft(mod, ModelKind::LanguageModel, "lora", o);
  EXPECT_TRUE(throws_with([&] { prodial::apply_peft(mod, ModelKind::LanguageModel, "prodial", o); }, {"already has adapters"}));
}

// The optimizer gets exactly the trainable parameters; a step leaves every frozen tensor as it was.
// With the official frozen diagonal, AdamW (weight decay included) keeps R's diagonal at 0 (D_b's at
// 1) while the off-diagonal entries move; the trainable mode moves the diagonal.
TEST(Tuner, OptimizerSeesOnlyTrainableAndFrozenDiagonalStays) {
  for (const std::string mode : {"frozen", "trainable"}) {
    TinyModel m(ModelKind::LanguageModel, 2);
    auto o = prodial_test::small_options();
    o.diag_mode = mode;
    auto s = prodial::apply_peft(m.module(), ModelKind::LanguageModel, "prodial", o);
    nn::optim::AdamWOptions ao;
    ao.lr = 1e-2;
    nn::optim::AdamW opt(nn::optim::split_decay(m.module().named_trainable_parameters(), 0.01), ao);
    int64_t in_opt = 0;
    std::set<std::string> names;
    for (auto& g : opt.param_groups()) {
      for (auto& p : g.params) in_opt += p.numel();
      names.insert(g.names.begin(), g.names.end());
    }
    EXPECT_EQ(in_opt, s.trainable_params);
    EXPECT_EQ(names, std::set<std::string>(s.trainable.begin(), s.trainable.end()));
    std::map<std::string, tensor::Tensor> before;
    for (auto& [n, v] : m.module().named_parameters()) before[n] = v.data().clone();
    for (int step = 0; step < 3; ++step) {
      opt.zero_grad();
      m.loss().backward();
      opt.step();
    }
    for (auto& [n, v] : m.module().named_parameters()) {
      SCOPED_TRACE(n);
      const bool same = pm_test::tensors_close(v.data(), before[n], 0, 0);
      if (v.requires_grad()) {
        // everything trained moves, except a frozen-mode R made of 1x1 blocks (only a diagonal)
        if (!(mode == "frozen" && n.find("out_proj.prodial_R") != std::string::npos)) {
          EXPECT_FALSE(same);
        }
      } else {
        EXPECT_TRUE(same);
        EXPECT_FALSE(v.grad().defined());
      }
    }
    const auto R = m.module().parameter("backbone.layers.0.mixer.in_proj.prodial_R").data().to_vector();
    double diag = 0, off = 0;
    for (int64_t k = 0; k < 4; ++k)
      for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 4; ++j) (i == j ? diag : off) += std::fabs(R[(k * 4 + i) * 4 + j]);
    if (mode == "frozen") {
      EXPECT_EQ(diag, 0.0);
    } else {
      EXPECT_GT(diag, 0.0);
    }
    EXPECT_GT(off, 0.0);
  }
}

// Adapters take the train / eval mode of the Linear they replace: no dropout in an eval-mode model.
TEST(Tuner, AdaptersFollowTheModelsMode) {
  TinyModel m(ModelKind::LanguageModel, 1);
  m.module().eval();
  auto o = prodial_test::small_options();
  o.dropout = 0.5;
  prodial::apply_peft(m.module(), ModelKind::LanguageModel, "lora", o);
  for (auto& [n, v] : m.module().named_trainable_parameters()) v.set_data(tensor::add(v.data(), 0.1));
  for (auto& [n, a] : prodial::find_adapters(m.module())) EXPECT_FALSE(a->is_training()) << n;
  EXPECT_TRUE(pm_test::tensors_close(m.forward().data(), m.forward().data(), 0, 0));
  m.module().train();
  EXPECT_FALSE(pm_test::tensors_close(m.forward().data(), m.forward().data(), 0, 0));  // dropout now
}

TEST(Tuner, SummaryTextAndJson) {
  TinyModel m(ModelKind::LanguageModel, 1);
  auto s = prodial::apply_peft(m.module(), ModelKind::LanguageModel, "prodial", prodial_test::small_options());
  const std::string text = s.str();
  EXPECT_NE(text.find("PEFT method prodial: 4 adapted modules"), std::string::npos) << text;
  EXPECT_NE(text.find("backbone.layers.0.mixer.in_proj: ProDiaL(blocks=4x4, r=2, alpha=4, dropout=0.1, diag=frozen)"),
            std::string::npos) << text;
  EXPECT_NE(text.find("trainable params: "), std::string::npos);
  const auto j = s.json();
  EXPECT_EQ(j["method"], "prodial");
  EXPECT_EQ(j["adapted"].size(), 4u);
  EXPECT_EQ(j["trainable_params"].get<int64_t>(), s.trainable_params);
  EXPECT_EQ(j["total_params"].get<int64_t>(), m.module().num_parameters());
  EXPECT_NEAR(j["trainable_percent"].get<double>(), 100.0 * s.trainable_params / s.total_params, 1e-12);
  // selective methods list tensors instead
  TinyModel m2(ModelKind::Vision, 1);
  auto s2 = prodial::apply_peft(m2.module(), ModelKind::Vision, "head", prodial::PeftOptions{});
  EXPECT_EQ(s2.trainable, (std::vector<std::string>{"head.weight", "head.bias"}));
  EXPECT_NE(s2.str().find("2 trainable tensors"), std::string::npos) << s2.str();
}

}  // namespace
