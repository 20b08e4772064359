// hf_fixture_test.cpp: MambaLM loaded from a Hugging Face MambaForCausalLM directory written by
// tests/reference/make_mamba_hf_fixture.py (transformers, non-default state_size / conv_kernel /
// time_step_rank, tied lm_head absent from the file) reproduces HF's logits, loss and every parameter's
// gradient: relative error <= 1e-4 on logits and loss, <= 1e-3 on gradients (float32), tighter in
// float64 (where HF still rounds A_log, D and the dt bias to float32, hence 1e-6 rather than 1e-12).
// Skips, saying why, while tests/data/mamba_hf_tiny is absent (transformers runs elsewhere).
#include <gtest/gtest.h>

#include <filesystem>

#include "autograd/ops.h"
#include "common/test_util.h"
#include "mamba/checkpoint.h"
#include "mamba_test_util.h"
#include "nn/safetensors.h"

namespace {
using mamba_test::rel_err;
using tensor::DType;

const char* kSkip =
    "tests/data/mamba_hf_tiny is absent: generate it on a machine with transformers with "
    "`python3 tests/reference/make_mamba_hf_fixture.py tests/data/mamba_hf_tiny`";

void check_against_hf(DType dtype, const std::string& sfx, double tol_out, double tol_grad) {
  const std::string dir = pm_test::data_path("mamba_hf_tiny");
  auto model = mamba::load_mamba_lm(dir, dtype);
  EXPECT_TRUE(model->tied());
  EXPECT_EQ(model->config().d_state, 8);
  EXPECT_EQ(model->config().d_conv, 3);
  EXPECT_EQ(model->config().rank(), 3);
  nn::SafetensorsFile fx(dir + "/fixtures.safetensors");
  const tensor::Tensor ids = fx.load("input_ids");
  autograd::Variable logits = model->forward(ids);
  autograd::Variable loss = model->next_token_loss(ids);
  loss.backward();
  EXPECT_LE(rel_err(logits.data(), fx.load("logits" + sfx)), tol_out);
  EXPECT_LE(rel_err(loss.data().reshape({1}), fx.load("loss" + sfx)), tol_out);
  int checked = 0;
  for (const auto& [name, p] : model->named_parameters()) {
    SCOPED_TRACE(name);
    const std::string key = (sfx.empty() ? "grad." : "grad64.") + name;
    ASSERT_TRUE(fx.contains(key)) << "the fixture has no gradient for our parameter " << name;
    ASSERT_TRUE(p.grad().defined());
    EXPECT_LE(rel_err(p.grad(), fx.load(key)), tol_grad);
    ++checked;
  }
  EXPECT_EQ(checked, 2 + 2 * 10);  // embedding, norm_f, 10 per layer (the tied lm_head counts once)
}

TEST(HFFixture, Float32MatchesTransformers) {
  if (!std::filesystem::exists(pm_test::data_path("mamba_hf_tiny"))) GTEST_SKIP() << kSkip;
  check_against_hf(DType::Float32, "", 1e-4, 1e-3);
}

TEST(HFFixture, Float64MatchesTransformers) {
  if (!std::filesystem::exists(pm_test::data_path("mamba_hf_tiny"))) GTEST_SKIP() << kSkip;
  check_against_hf(DType::Float64, "64", 1e-6, 1e-5);
}

}  // namespace
