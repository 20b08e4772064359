// mixer.h: MambaMixer, the selective-SSM mixer of one Mamba block (spec §1), one-directional (Mamba
// LM) or bidirectional (bimamba v2, Vision Mamba, spec §6.3), with its recurrent decoding state.
//
// Dimension letters: b batch, L sequence, d d_model, E d_inner, N d_state, R dt_rank, K d_conv.
//
// Parameters (checkpoint names): in_proj.weight [2E, d] (rows [0, E) are x, [E, 2E) the gate z),
// conv1d.weight [E, 1, K], conv1d.bias [E], x_proj.weight [R + 2N, E] (rows: dt, B, C),
// dt_proj.weight [E, R], dt_proj.bias [E], A_log [E, N], D [E], out_proj.weight [d, E]; the
// bidirectional mixer adds conv1d_b, x_proj_b, dt_proj_b, A_b_log and D_b for the reversed branch and
// shares in_proj / out_proj.
//
// Forward: xz = in_proj(h); u = silu(conv(x)); [dt_low | B | C] = x_proj(u); δraw = W_dt dt_low;
// o = selective_scan(u, δraw, -exp(A_log), B, C, D, z, dt_proj.bias, softplus) (gate inside);
// out = out_proj(o), or out_proj((o_f + o_b) / 2) with the reversed branch run by the ops' reverse
// flags (no flipped copies). in_proj and out_proj are used only through their nn::Linear modules
// (child<nn::Linear>("in_proj")), so replacing those children (PEFT adapters) always takes effect.
#pragma once
#include <memory>

#include "mamba/config.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "tensor/generator.h"

namespace mamba {

using autograd::Variable;
using tensor::Tensor;

// A layer's decoding cache: conv_state [b, E, K] (last K pre-conv inputs, newest last) and
// ssm_state [b, E, N].
struct LayerState {
  Tensor conv_state, ssm_state;
};

class MambaMixer : public nn::UnaryModule {
 public:
  // Parameters start with mamba_ssm's mixer initialisation (spec §1.4; the reversed branch as §6.3),
  // drawn from `gen` (the default generator when null).
  MambaMixer(const MixerConfig& cfg, tensor::Generator* gen = nullptr, tensor::DType dtype = tensor::DType::Float32);

  // h [b, L, d] -> [b, L, d]. With `cache` (one-directional mixers only), fills it with the state
  // after the last step, ready for step().
  Variable forward(const Variable& h) override;
  Variable forward(const Variable& h, LayerState* cache);
  // One decoding step (no graph): h_t [b, d] -> [b, d], updating `state`.
  Tensor step(const Tensor& h_t, LayerState& state);
  // A zero cache for batch size b.
  LayerState new_state(int64_t b) const;

  const MixerConfig& config() const { return cfg_; }
  std::string extra_repr() const override;

 private:
  // One direction: from x, z [b, E, L] to the gated output o [b, E, L].
  Variable branch(const Variable& x, const Variable& z, bool reverse, LayerState* cache);
  MixerConfig cfg_;
};

}  // namespace mamba
