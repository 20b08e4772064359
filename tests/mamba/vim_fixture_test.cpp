// vim_fixture_test.cpp: VisionMamba loaded from tests/data/vim_tiny (written by
// tests/reference/make_vim_fixture.py, a PyTorch re-implementation of hustvl/Vim's forward) gives the
// reference logits, loss and every parameter's gradient: relative error <= 1e-4 on logits and loss and
// <= 1e-3 on gradients in float32, and to float64 rounding in float64.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "common/test_util.h"
#include "mamba/checkpoint.h"
#include "mamba_test_util.h"
#include "nn/loss.h"
#include "nn/safetensors.h"

namespace {
using mamba_test::rel_err;
using tensor::DType;

void check_against_fixture(DType dtype, double tol_out, double tol_grad) {
  const std::string dir = pm_test::data_path("vim_tiny");
  auto model = mamba::load_vision_mamba(dir, dtype);
  nn::SafetensorsFile fx(dir + "/fixtures.safetensors");
  const tensor::Tensor images = fx.load("images").to(dtype), labels = fx.load("labels");
  autograd::Variable logits = model->forward(autograd::Variable(images));
  autograd::Variable loss = nn::cross_entropy(logits, labels);
  loss.backward();
  EXPECT_LE(rel_err(logits.data(), fx.load("logits")), tol_out);
  EXPECT_LE(rel_err(loss.data().reshape({1}), fx.load("loss")), tol_out);
  int checked = 0;
  for (const auto& [name, p] : model->named_parameters()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(fx.contains("grad." + name));
    ASSERT_TRUE(p.grad().defined());
    EXPECT_LE(rel_err(p.grad(), fx.load("grad." + name)), tol_grad);
    ++checked;
  }
  EXPECT_EQ(checked, 4 + 2 * 17 + 3);  // patch_embed (2), cls, pos, 17 per layer, norm_f, head (2)
}

TEST(VimFixture, Float32MatchesPyTorchReference) { check_against_fixture(DType::Float32, 1e-4, 1e-3); }

TEST(VimFixture, Float64MatchesPyTorchReference) { check_against_fixture(DType::Float64, 1e-9, 1e-8); }

}  // namespace
