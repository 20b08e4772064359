// peft_interop_test.cpp: adapters move between Hugging Face peft and us, on the tiny HF Mamba of
// tests/data/mamba_hf_tiny.
//   peft -> us: tests/data/peft_{lora,dora}_tiny were written by peft (tests/reference/
//     make_peft_fixture.py, non-zero lora_B); loading them onto the base reproduces peft's logits with
//     the adapter applied and after merge_and_unload.
//   us -> peft: tests/data/peft_ours_tiny/{lora,dora} were written by save_adapter (the DISABLED_
//     writer below); the same script loaded them with peft.PeftModel.from_pretrained and stored peft's
//     logits beside them as peft_logits.safetensors, which our logits must match.
// Each test skips, saying why, while its fixture is absent.
#include <gtest/gtest.h>

#include <filesystem>

#include "autograd/grad_mode.h"
#include "common/test_util.h"
#include "mamba/checkpoint.h"
#include "mamba/mamba_test_util.h"
#include "nn/safetensors.h"
#include "prodial/peft.h"
#include "prodial/tuner.h"
#include "tensor/ops.h"

namespace {

using mamba_test::rel_err;
using prodial::ModelKind;

bool present(const std::string& rel) { return std::filesystem::exists(pm_test::data_path(rel)); }

void check_peft_written(const std::string& fixture, const std::string& method) {
  const std::string dir = pm_test::data_path(fixture);
  auto model = mamba::load_mamba_lm(pm_test::data_path("mamba_hf_tiny"));
  prodial::PeftSummary s = prodial::load_adapter(*model, ModelKind::LanguageModel, dir);
  EXPECT_EQ(s.method, method);
  EXPECT_EQ(s.adapted.size(), 4u);  // in_proj and out_proj of 2 layers
  model->eval();
  nn::SafetensorsFile fx(dir + "/logits.safetensors");
  const tensor::Tensor ids = fx.load("input_ids");
  autograd::NoGradGuard no_grad;
  const tensor::Tensor base_logits = fx.load("logits_base");
  const tensor::Tensor logits = model->forward(ids).data();
  EXPECT_LE(rel_err(logits, fx.load("logits")), 1e-4);
  // the adapter really changes the function (B is not zero)
  EXPECT_GT(rel_err(logits, base_logits), 1e-3);
  EXPECT_EQ(prodial::merge_peft(*model), 4);
  EXPECT_LE(rel_err(model->forward(ids).data(), fx.load("logits_merged")), 1e-4);
}

TEST(PeftInterop, PeftLoraLoadsHere) {
  if (!present("peft_lora_tiny")) GTEST_SKIP() << "tests/data/peft_lora_tiny absent: run tests/reference/make_peft_fixture.py";
  check_peft_written("peft_lora_tiny", "lora");
}

TEST(PeftInterop, PeftDoraLoadsHere) {
  if (!present("peft_dora_tiny")) GTEST_SKIP() << "tests/data/peft_dora_tiny absent: run tests/reference/make_peft_fixture.py";
  check_peft_written("peft_dora_tiny", "dora");
}

// Ours reloads here (always) and matches what peft computed from the same files (when recorded).
void check_ours(const std::string& method) {
  const std::string dir = pm_test::data_path("peft_ours_tiny/" + method);
  auto model = mamba::load_mamba_lm(pm_test::data_path("mamba_hf_tiny"));
  prodial::load_adapter(*model, ModelKind::LanguageModel, dir);
  model->eval();
  nn::SafetensorsFile ours(dir + "/ours_logits.safetensors");
  const tensor::Tensor ids = ours.load("input_ids");
  autograd::NoGradGuard no_grad;
  const tensor::Tensor logits = model->forward(ids).data();
  EXPECT_LE(rel_err(logits, ours.load("logits")), 1e-6);
  if (!std::filesystem::exists(dir + "/peft_logits.safetensors"))
    GTEST_SKIP() << dir << "/peft_logits.safetensors absent: run tests/reference/make_peft_fixture.py";
  nn::SafetensorsFile peft(dir + "/peft_logits.safetensors");
  EXPECT_LE(rel_err(logits, peft.load("logits")), 1e-4) << "peft computes something else from our adapter files";
}

TEST(PeftInterop, OursLoraLoadsInPeft) {
  if (!present("peft_ours_tiny/lora")) GTEST_SKIP() << "tests/data/peft_ours_tiny absent";
  check_ours("lora");
}

TEST(PeftInterop, OursDoraLoadsInPeft) {
  if (!present("peft_ours_tiny/dora")) GTEST_SKIP() << "tests/data/peft_ours_tiny absent";
  check_ours("dora");
}

// Writes tests/data/peft_ours_tiny/{lora,dora}: run with
//   test_prodial --gtest_also_run_disabled_tests --gtest_filter='*WriteOursTiny*'
// then let tests/reference/make_peft_fixture.py add peft_logits.safetensors.
TEST(PeftInterop, DISABLED_WriteOursTiny) {
  for (const std::string method : {"lora", "dora"}) {
    const std::string dir = pm_test::data_path("peft_ours_tiny/" + method);
    auto model = mamba::load_mamba_lm(pm_test::data_path("mamba_hf_tiny"));
    prodial::PeftOptions o;
    o.rank = 4;
    o.alpha = 8;
    o.dropout = 0.0;
    o.seed = 11;
    prodial::PeftSummary s = prodial::apply_peft(*model, ModelKind::LanguageModel, method, o);
    tensor::Generator gen(99);
    for (auto& [name, a] : prodial::find_adapters(*model))
      for (auto& [pn, v] : a->adapter_parameters()) {
        if (pn == "lora_B.weight") v.set_data(tensor::randn(v.shape(), v.dtype(), &gen, 0.0, 0.2));
        if (pn == "lora_magnitude_vector") v.set_data(tensor::mul(v.data(), tensor::rand(v.shape(), v.dtype(), &gen, 0.8, 1.2)));
      }
    model->eval();
    const tensor::Tensor ids = tensor::randint(0, 64, {2, 12}, &gen);
    autograd::NoGradGuard no_grad;
    const tensor::Tensor logits = model->forward(ids).data();
    prodial::save_adapter(*model, s, o, dir, "tests/data/mamba_hf_tiny");
    nn::save_safetensors(dir + "/ours_logits.safetensors", {{"input_ids", ids}, {"logits", logits}});
  }
}

}  // namespace
