// init.h: mamba_ssm's model-level initialisation (`_init_weights` of mixer_seq_simple, spec §2.4,
// applied by the LM and, after its own inits, by Vision Mamba, spec §6.4). The mixers' own
// initialisation (dt_proj, A_log, D, spec §1.4) happens when they are built.
#pragma once
#include <cstdint>

#include "nn/module.h"
#include "tensor/generator.h"

namespace mamba {

// Over every module below `root`:
//   - every nn::Linear bias is zeroed, except the biases of children named "dt_proj" (mamba_ssm's
//     _no_reinit flag; the reversed branch's "dt_proj_b" has no such flag and is zeroed);
//   - every nn::Embedding weight is drawn from N(0, embedding_std^2);
//   - with rescale_prenorm_residual, every "out_proj" weight is redrawn as kaiming-uniform(a = sqrt 5)
//     and divided by sqrt(n_layer) (one residual per layer: no MLP).
void init_mamba_weights_(nn::Module& root, int64_t n_layer, tensor::Generator* gen, double embedding_std = 0.02,
                         bool rescale_prenorm_residual = true);

}  // namespace mamba
