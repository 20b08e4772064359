// prodial_test_util.h: what the prodial tests share: a tiny LM or Vision Mamba behind one interface
// (build from a seed, run a fixed input, a scalar loss), and options small enough for tiny models.
#pragma once
#include <memory>

#include "autograd/ops.h"
#include "mamba/lm.h"
#include "mamba/mamba_test_util.h"
#include "mamba/vision.h"
#include "prodial/peft.h"
#include "tensor/ops.h"

namespace prodial_test {

using autograd::Variable;
using prodial::ModelKind;
using tensor::Tensor;

// d_model 16, E 32, 2 layers (LM vocabulary 60 padded to 64; Vim 16x16 images, patch 4, 5 classes).
struct TinyModel {
  ModelKind kind;
  std::shared_ptr<mamba::MambaLM> lm;
  std::shared_ptr<mamba::VisionMamba> vim;
  Tensor input;  // ids [2, 7] or images [2, 3, 16, 16]

  TinyModel(ModelKind k, uint64_t seed, tensor::DType dtype = tensor::DType::Float64) : kind(k) {
    tensor::Generator gen(seed);
    tensor::Generator data(1000 + static_cast<uint64_t>(k));
    if (k == ModelKind::LanguageModel) {
      lm = std::make_shared<mamba::MambaLM>(mamba_test::tiny_lm(), &gen, dtype);
      input = tensor::randint(0, 60, {2, 7}, &data);
    } else {
      vim = std::make_shared<mamba::VisionMamba>(mamba::vim_preset("vim-test"), &gen, dtype);
      input = tensor::randn({2, 3, 16, 16}, dtype, &data);
    }
  }
  nn::Module& module() { return lm ? static_cast<nn::Module&>(*lm) : static_cast<nn::Module&>(*vim); }
  Variable forward() { return lm ? lm->forward(input) : vim->forward(Variable(input)); }
  // A scalar that depends on every output: sum(out * w) with a fixed w.
  Variable loss() {
    Variable y = forward();
    tensor::Generator g(7);
    return autograd::sum(autograd::mul(y, Variable(tensor::randn(y.shape(), y.dtype(), &g))));
  }
};

inline prodial::PeftOptions small_options() {
  prodial::PeftOptions o;
  o.rank = 2;
  o.alpha = 4;
  o.dropout = 0.1;
  o.rb_in = 4;   // in_proj: 4 blocks of 4
  o.rb_out = 0;  // out_proj: diagonal
  o.seed = 3;
  return o;
}

}  // namespace prodial_test
