// mamba_fixture_cuda_test.cpp: the two model fixtures on the GPU. MambaLM loaded from
// tests/data/mamba_hf_tiny (made with Hugging Face transformers) and VisionMamba loaded from
// tests/data/vim_tiny (the PyTorch re-implementation of hustvl/Vim), moved to CUDA, give the
// references' logits, loss and every parameter's gradient: relative error <= 1e-4 on logits and
// loss and <= 1e-3 on gradients in float32, as the CPU does (tests/mamba/*_fixture_test.cpp).
#include <gtest/gtest.h>

#include <filesystem>

#include "autograd/ops.h"
#include "cuda/gpu_test_util.h"
#include "mamba/api.h"
#include "mamba/checkpoint.h"
#include "mamba/mamba_test_util.h"
#include "nn/loss.h"
#include "nn/safetensors.h"

namespace {
using mamba_test::rel_err;
using tensor::Device;
using tensor::DType;

// Every gradient of `model` on the GPU against the fixture's `prefix + name` tensors.
int check_grads(const nn::Module& model, const nn::SafetensorsFile& fx, const std::string& prefix, double tol) {
  int checked = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(p.data().device().is_cuda());
    if (!fx.contains(prefix + name) || !p.grad().defined()) {
      ADD_FAILURE() << "no gradient to compare for " << name;
      continue;
    }
    EXPECT_TRUE(p.grad().device().is_cuda());
    EXPECT_LE(rel_err(p.grad().to(Device::cpu()), fx.load(prefix + name)), tol);
    ++checked;
  }
  return checked;
}

TEST(MambaFixtureCuda, HuggingFaceLmMatchesTransformers) {
  PM_REQUIRE_GPU();
  const std::string dir = pm_test::data_path("mamba_hf_tiny");
  auto model = mamba::load_mamba_lm(dir, DType::Float32);
  model->to(Device::cuda());
  nn::SafetensorsFile fx(dir + "/fixtures.safetensors");
  const tensor::Tensor ids = fx.load("input_ids").to(Device::cuda());
  autograd::Variable logits = model->forward(ids);
  autograd::Variable loss = model->next_token_loss(ids);
  loss.backward();
  ASSERT_TRUE(logits.data().device().is_cuda());
  EXPECT_LE(rel_err(logits.data().to(Device::cpu()), fx.load("logits")), 1e-4);
  EXPECT_LE(rel_err(loss.data().reshape({1}).to(Device::cpu()), fx.load("loss")), 1e-4);
  EXPECT_EQ(check_grads(*model, fx, "grad.", 1e-3), 2 + 2 * 10);
}

TEST(MambaFixtureCuda, VisionMambaMatchesReference) {
  PM_REQUIRE_GPU();
  const std::string dir = pm_test::data_path("vim_tiny");
  auto model = mamba::load_vision_mamba(dir, DType::Float32);
  model->to(Device::cuda());
  nn::SafetensorsFile fx(dir + "/fixtures.safetensors");
  const tensor::Tensor images = fx.load("images").to(DType::Float32).to(Device::cuda());
  const tensor::Tensor labels = fx.load("labels").to(Device::cuda());
  autograd::Variable logits = model->forward(autograd::Variable(images));
  autograd::Variable loss = nn::cross_entropy(logits, labels);
  loss.backward();
  EXPECT_LE(rel_err(logits.data().to(Device::cpu()), fx.load("logits")), 1e-4);
  EXPECT_LE(rel_err(loss.data().reshape({1}).to(Device::cpu()), fx.load("loss")), 1e-4);
  EXPECT_EQ(check_grads(*model, fx, "grad.", 1e-3), 4 + 2 * 17 + 3);
}

// The library calls the apps use (mamba/api.h) on a model living on the GPU: they build their index
// tensors there and give the CPU model's answers.
TEST(MambaFixtureCuda, ApiCallsRunOnAGpuModel) {
  PM_REQUIRE_GPU();
  const std::string dir = pm_test::data_path("mamba_hf_tiny");
  auto cpu = mamba::load_mamba_lm(dir, DType::Float32), gpu = mamba::load_mamba_lm(dir, DType::Float32);
  gpu->to(Device::cuda());
  nn::SafetensorsFile fx(dir + "/fixtures.safetensors");
  const tensor::Tensor ids = fx.load("input_ids");
  std::vector<int64_t> tokens;
  for (int64_t t = 0; t < ids.size(1); ++t) tokens.push_back(static_cast<int64_t>(ids.at({0, t})));
  const double want = mamba::next_token_loss(*cpu, tokens, 5).mean_loss;
  EXPECT_NEAR(mamba::next_token_loss(*gpu, tokens, 5).mean_loss, want, 1e-4 * std::fabs(want));
  const std::vector<int64_t> prompt(tokens.begin(), tokens.begin() + 3);
  EXPECT_EQ(mamba::generate_greedy(*gpu, prompt, 6), mamba::generate_greedy(*cpu, prompt, 6));
}

}  // namespace
