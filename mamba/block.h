// block.h: MambaBlock, one residual block "Add -> RMSNorm -> Mixer" (spec §2.1), and drop_path, Vim's
// per-sample stochastic depth (training only).
//
// Dimension letters: b batch, L sequence, d d_model.
//
// forward(hidden, residual): residual' = residual + drop_path(hidden) (= hidden on the first block,
// where residual is undefined); returns (mixer(norm(residual')), residual'). After the last block
// the model adds the two once more and applies norm_f. The residual stream stays in the parameters'
// dtype, float32 or float64 (never lower), so it is at least fp32 as mamba_ssm's residual_in_fp32.
// Children: "norm" (nn::RMSNorm), "mixer" (MambaMixer).
#pragma once
#include <memory>
#include <utility>

#include "mamba/mixer.h"
#include "tensor/generator.h"

namespace mamba {

// Training only: each sample of x [b, ...] is zeroed with probability p and otherwise scaled by
// 1 / (1 - p); the identity when !training or p == 0. Masks come from `gen` (default when null).
Variable drop_path(const Variable& x, double p, bool training, tensor::Generator* gen);

class MambaBlock : public nn::Module {
 public:
  MambaBlock(const MixerConfig& cfg, double norm_eps, tensor::Generator* gen = nullptr,
             tensor::DType dtype = tensor::DType::Float32);

  std::pair<Variable, Variable> forward(const Variable& hidden, const Variable& residual, LayerState* cache = nullptr);
  // One decoding step on [b, d] rows (no graph).
  std::pair<Tensor, Tensor> step(const Tensor& hidden, const Tensor& residual, LayerState& state);

  // Stochastic depth on the incoming `hidden` (Vim's DropPath before the residual add).
  void set_drop_path(double p, std::shared_ptr<tensor::Generator> gen) {
    drop_path_ = p;
    drop_gen_ = std::move(gen);
  }
  double drop_path_rate() const { return drop_path_; }
  std::shared_ptr<MambaMixer> mixer() const { return child<MambaMixer>("mixer"); }

 private:
  double drop_path_ = 0.0;
  std::shared_ptr<tensor::Generator> drop_gen_;
};

}  // namespace mamba
