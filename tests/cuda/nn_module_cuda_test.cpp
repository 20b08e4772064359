// nn_module_cuda_test.cpp: nn on the GPU: Module::to(cuda) moves every parameter, gradient and
// buffer while keeping each Variable's identity (so an optimizer built before the move stays
// valid), a few AdamW training steps of a small network on the GPU track the same steps on the CPU,
// the state dict comes back to the CPU intact, and safetensors saves GPU tensors.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "autograd/ops.h"
#include "cuda/gpu_test_util.h"
#include "nn/container.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/norm.h"
#include "nn/optim/adamw.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/param_groups.h"
#include "nn/safetensors.h"

namespace {
using autograd::Variable;
using pm_gpu_test::matches_cpu;
using tensor::Device;
using tensor::DType;
using tensor::Tensor;

// Embedding -> RMSNorm -> Linear -> SiLU -> LayerNorm -> Linear(no bias): every layer kind with
// parameters the models use, plus a non-parameter buffer.
struct TinyNet : nn::Module {
  explicit TinyNet(uint64_t seed) : nn::Module("TinyNet") {
    tensor::Generator g(seed);
    register_module("embed", std::make_shared<nn::Embedding>(11, 8, std::nullopt, &g));
    register_module("norm", std::make_shared<nn::RMSNorm>(8));
    register_module("fc1", std::make_shared<nn::Linear>(8, 16, true, &g));
    register_module("ln", std::make_shared<nn::LayerNorm>(16));
    register_module("fc2", std::make_shared<nn::Linear>(16, 5, false, &g));
    register_buffer("scale", tensor::full({5}, 0.5, DType::Float32));
  }
  Variable forward(const Tensor& ids) {
    Variable h = child<nn::Embedding>("embed")->forward(ids);
    h = child<nn::RMSNorm>("norm")->forward(h);
    h = autograd::silu(child<nn::Linear>("fc1")->forward(h));
    h = child<nn::LayerNorm>("ln")->forward(h);
    Variable logits = child<nn::Linear>("fc2")->forward(h);
    return autograd::mul(logits, Variable(buffer("scale")));
  }
};

Tensor ids_batch() { return tensor::from_vector<int64_t>({1, 4, 7, 10, 0, 3, 3, 9, 2, 5, 8, 6}, {3, 4}); }
Tensor targets_batch() { return tensor::from_vector<int64_t>({0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1}, {3, 4}); }

TEST(NnModuleCuda, ToCudaKeepsVariablesAndMovesEverything) {
  PM_REQUIRE_GPU();
  TinyNet net(3);
  const auto before = net.named_parameters();
  // a gradient exists before the move: it must travel too
  nn::cross_entropy(autograd::reshape(net.forward(ids_batch()), {12, 5}), targets_batch().reshape({12})).backward();
  net.to(Device::cuda());
  const auto after = net.named_parameters();
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    SCOPED_TRACE(after[i].first);
    EXPECT_EQ(before[i].first, after[i].first);
    EXPECT_TRUE(before[i].second.same(after[i].second)) << "the Variable was replaced, not moved";
    EXPECT_TRUE(after[i].second.data().device().is_cuda());
    ASSERT_TRUE(after[i].second.grad().defined());
    EXPECT_TRUE(after[i].second.grad().device().is_cuda());
  }
  for (const auto& [name, t] : net.named_buffers()) EXPECT_TRUE(t.device().is_cuda()) << name;
  net.to(Device::cpu());
  for (const auto& [name, t] : net.state_dict()) EXPECT_TRUE(t.device().is_cpu()) << name;
}

TEST(NnModuleCuda, AdamWStepsOnTheGpuTrackTheCpu) {
  PM_REQUIRE_GPU();
  TinyNet cpu(5), gpu(5);
  gpu.to(Device::cuda());
  nn::optim::AdamWOptions o;
  o.lr = 1e-2;
  nn::optim::AdamW opt_cpu(nn::optim::split_decay(cpu.named_trainable_parameters(), 0.1), o);
  nn::optim::AdamW opt_gpu(nn::optim::split_decay(gpu.named_trainable_parameters(), 0.1), o);
  const Tensor ids = ids_batch(), tgt = targets_batch().reshape({12});
  const Tensor ids_g = ids.to(Device::cuda()), tgt_g = tgt.to(Device::cuda());
  for (int step = 0; step < 5; ++step) {
    opt_cpu.zero_grad();
    opt_gpu.zero_grad();
    Variable lc = nn::cross_entropy(autograd::reshape(cpu.forward(ids), {12, 5}), tgt);
    Variable lg = nn::cross_entropy(autograd::reshape(gpu.forward(ids_g), {12, 5}), tgt_g);
    EXPECT_TRUE(matches_cpu(lg.data(), lc.data(), 1e-5, 1e-6)) << "loss at step " << step;
    lc.backward();
    lg.backward();
    nn::optim::clip_grad_norm(cpu.trainable_parameters(), 1.0);
    nn::optim::clip_grad_norm(gpu.trainable_parameters(), 1.0);
    opt_cpu.step();
    opt_gpu.step();
  }
  const auto sc = cpu.state_dict(), sg = gpu.state_dict();
  for (const auto& [name, t] : sc) EXPECT_TRUE(matches_cpu(sg.at(name), t, 1e-4, 1e-5)) << name;
  // optimizer state lives beside its parameters
  int moments = 0;
  for (const auto& [name, t] : opt_gpu.state_dict()) {
    const bool moment = name.find("exp_avg") != std::string::npos;
    moments += moment;
    if (moment) {
      EXPECT_TRUE(t.device().is_cuda()) << name << " is on " << t.device().str();
    }
  }
  EXPECT_GT(moments, 0);
}

TEST(NnModuleCuda, SafetensorsSavesGpuTensors) {
  PM_REQUIRE_GPU();
  TinyNet net(9);
  const auto cpu_state = net.state_dict();
  std::map<std::string, Tensor> cpu_copy;
  for (const auto& [name, t] : cpu_state) cpu_copy[name] = t.clone();
  net.to(Device::cuda());
  const std::string path =
      (std::filesystem::temp_directory_path() / ("pm_nn_cuda_" + std::to_string(::getpid()) + ".safetensors")).string();
  nn::save_safetensors(path, net.state_dict());
  const auto back = nn::load_safetensors(path);
  std::remove(path.c_str());
  ASSERT_EQ(back.size(), cpu_copy.size());
  for (const auto& [name, t] : cpu_copy) {
    ASSERT_TRUE(back.count(name)) << name;
    EXPECT_TRUE(back.at(name).device().is_cpu());
    EXPECT_EQ(back.at(name).to_vector(), t.to_vector()) << name;
  }
  // and a CPU model loads the GPU model's state dict
  TinyNet other(10);
  other.load_state_dict(net.state_dict());
  for (const auto& [name, t] : cpu_copy) EXPECT_EQ(other.state_dict().at(name).to_vector(), t.to_vector()) << name;
}

}  // namespace
