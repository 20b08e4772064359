// lm.h: MambaLM, the Mamba language model (mamba_ssm MambaLMHeadModel / HF MambaForCausalLM, spec §2):
// token embedding, n_layer MambaBlocks, the final RMSNorm, and a tied lm_head, with recurrent decoding.
//
// Dimension letters: b batch, L sequence, d d_model, V vocabulary (Vp padded), E d_inner, N d_state.
//
// Module tree and parameter names are Hugging Face's (spec §4.1):
//   backbone.embeddings.weight [Vp, d], backbone.layers.{i}.norm.weight, backbone.layers.{i}.mixer.*,
//   backbone.norm_f.weight, lm_head.weight [Vp, d] (the embedding's Variable when tied).
// The tables have Vp = padded_vocab() rows; the padding rows are never predicted: forward() slices the
// logits to the real vocabulary V before anything (loss, sampling) sees them.
#pragma once
#include <memory>
#include <vector>

#include "mamba/block.h"
#include "mamba/config.h"
#include "nn/module.h"

namespace mamba {

// Per-layer decoding caches and how many tokens they have seen.
struct InferenceCache {
  std::vector<LayerState> layers;
  int64_t seen = 0;
};

class MambaLM : public nn::Module {
 public:
  // Built with mamba_ssm's initialisation (spec §1.4, §2.4) from `gen` (the default generator when null).
  explicit MambaLM(const MambaConfig& cfg, tensor::Generator* gen = nullptr, tensor::DType dtype = tensor::DType::Float32);

  const MambaConfig& config() const { return cfg_; }

  // ids int64 [b, L] -> final hidden states [b, L, d] (after norm_f). With `cache`, also leaves the
  // decoding state after the last token there (a prefill).
  Variable hidden_states(const Tensor& ids, InferenceCache* cache = nullptr);
  // ids [b, L] -> logits [b, L, V] over the real vocabulary (padding columns sliced off).
  Variable forward(const Tensor& ids, InferenceCache* cache = nullptr);
  Variable operator()(const Tensor& ids) { return forward(ids); }
  // Mean next-token cross-entropy: position t predicts ids[t + 1] (L >= 2). Targets equal to
  // `ignore_index` do not count.
  Variable next_token_loss(const Tensor& ids, int64_t ignore_index = -100);
  // Mean cross-entropy of logits [b, L, V] against explicit targets [b, L] (ignore_index skipped).
  Variable loss(const Tensor& ids, const Tensor& targets, int64_t ignore_index = -100);

  // ---- recurrent decoding (no graph) ----
  InferenceCache new_cache(int64_t b) const;
  // Runs the prompt ids [b, L] through the model, filling a fresh cache; returns the logits of the last
  // position [b, V].
  Tensor prefill(const Tensor& ids, InferenceCache& cache);
  // One token per sequence, ids [b] -> logits [b, V]; O(1) work per token.
  Tensor step(const Tensor& ids, InferenceCache& cache);

  bool tied() const;

 private:
  void check_ids(const char* what, const Tensor& ids, int64_t dims) const;
  Tensor vocab_slice(const Tensor& logits) const;
  MambaConfig cfg_;
};

}  // namespace mamba
