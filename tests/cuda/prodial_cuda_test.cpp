// prodial_cuda_test.cpp: the PEFT layer on the GPU: ProDiaL's and DoRA's functions (forward and
// gradients) match the CPU, and a tiny LM and Vision Mamba with adapters give the same logits on both
// devices, before and after merge_peft. Skips without a GPU.
#include <gtest/gtest.h>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "gpu_test_util.h"
#include "mamba/lm.h"
#include "mamba/vision.h"
#include "prodial/functional.h"
#include "prodial/peft.h"
#include "prodial/tuner.h"

namespace {

using autograd::Variable;
using pm_gpu_test::cuda;
using pm_gpu_test::matches_cpu;
using tensor::DType;
using tensor::Tensor;

// f over CPU inputs and over their CUDA copies: outputs and every input's gradient agree.
template <typename F> void check_parity(F f, const std::vector<Tensor>& inputs, double tol) {
  std::vector<Variable> c, g;
  for (auto& t : inputs) {
    c.emplace_back(t.clone(), true);
    g.emplace_back(cuda(t), true);
  }
  Variable yc = f(c), yg = f(g);
  EXPECT_TRUE(matches_cpu(yg.data(), yc.data(), tol, tol));
  tensor::Generator gen(3);
  const Tensor w = tensor::randn(yc.shape(), yc.dtype(), &gen);
  autograd::sum(autograd::mul(yc, Variable(w))).backward();
  autograd::sum(autograd::mul(yg, Variable(cuda(w)))).backward();
  for (size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE("input " + std::to_string(i));
    EXPECT_TRUE(matches_cpu(g[i].grad(), c[i].grad(), tol, tol));
  }
}

TEST(ProdialCuda, FunctionsMatchCpu) {
  PM_REQUIRE_GPU();
  tensor::Generator gen(1);
  for (DType dt : {DType::Float32, DType::Float64}) {
    const double tol = dt == DType::Float32 ? 1e-4 : 1e-10;
    for (int64_t rb : {1, 4, 16}) {
      for (bool trainable : {false, true}) {
        const int64_t n = 16 / rb;
        std::vector<Tensor> in = {tensor::randn({3, 5, 16}, dt, &gen), tensor::randn({8, 16}, dt, &gen),
                                  tensor::randn({8}, dt, &gen), tensor::randn({rb, n, n}, dt, &gen, 0, 0.3),
                                  tensor::randn({8}, dt, &gen, 1, 0.1)};
        check_parity([trainable](const std::vector<Variable>& v) {
          return prodial::prodial_linear(v[0], v[1], v[2], v[3], v[4], trainable);
        }, in, tol);
      }
    }
    std::vector<Tensor> in = {tensor::randn({3, 16}, dt, &gen), tensor::randn({3, 16}, dt, &gen),
                              tensor::randn({8, 16}, dt, &gen), tensor::randn({8}, dt, &gen),
                              tensor::randn({2, 16}, dt, &gen), tensor::randn({8, 2}, dt, &gen),
                              tensor::rand({8}, dt, &gen, 0.5, 2.0)};
    check_parity([](const std::vector<Variable>& v) {
      return prodial::dora_linear(v[0], v[1], v[2], v[3], v[4], v[5], v[6], 2.0);
    }, in, tol);
  }
}

// A tiny model with adapters: CPU and CUDA logits agree, and merged == unmerged on the GPU.
TEST(ProdialCuda, AdaptedModelsMatchCpuAndMergeOnGpu) {
  PM_REQUIRE_GPU();
  for (const std::string method : {"prodial", "lora", "dora"}) {
    for (bool vision : {false, true}) {
      SCOPED_TRACE(method + (vision ? " vim" : " lm"));
      tensor::Generator gen(5), data(6);
      std::shared_ptr<mamba::MambaLM> lm;
      std::shared_ptr<mamba::VisionMamba> vim;
      nn::Module* model;
      Tensor input;
      if (vision) {
        vim = std::make_shared<mamba::VisionMamba>(mamba::vim_preset("vim-test"), &gen);
        model = vim.get();
        input = tensor::randn({2, 3, 16, 16}, DType::Float32, &data);
      } else {
        auto cfg = mamba::mamba_preset("mamba-tiny");
        lm = std::make_shared<mamba::MambaLM>(cfg, &gen);
        model = lm.get();
        input = tensor::randint(0, cfg.vocab_size, {2, 9}, &data);
      }
      auto run = [&](const Tensor& x) {
        return vision ? vim->forward(Variable(x)).data() : lm->forward(x).data();
      };
      prodial::PeftOptions o;
      o.rank = 2;
      o.rb_in = 4;
      const auto kind = vision ? prodial::ModelKind::Vision : prodial::ModelKind::LanguageModel;
      prodial::apply_peft(*model, kind, method, o);
      tensor::Generator pert(7);
      for (auto& [n, v] : model->named_trainable_parameters())
        v.set_data(tensor::add(v.data(), tensor::randn(v.shape(), v.dtype(), &pert, 0, 0.05)));
      model->eval();
      autograd::NoGradGuard ng;
      const Tensor y_cpu = run(input);
      model->to(tensor::Device::cuda());
      const Tensor x_gpu = cuda(input);
      const Tensor y_gpu = run(x_gpu);
      EXPECT_TRUE(matches_cpu(y_gpu, y_cpu, 1e-3, 1e-4));
      prodial::merge_peft(*model);
      EXPECT_TRUE(matches_cpu(run(x_gpu), y_cpu, 1e-3, 1e-4));
    }
  }
}

}  // namespace
