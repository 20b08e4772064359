// accounting_checks.h: trainable-parameter counts against the paper's arithmetic (prodial-method.md
// §2, §4.3), each expected value computed from the config by formula:
//   LoRA rank r on a [d_out, d_in] projector: r (d_in + d_out); ProDiaL adds d_out (s) + d_in^2 / r_b (R).
// The per-layer counts are scaled to the preset's 24 layers and compared with the paper's numbers:
// Mamba-130M LoRA r=16 on both projectors = 2,359,296; ProDiaL r_b(in)=768, r_b(out)=1536, r=16 =
// 2,506,752; SSM = 5,382,144; Out-Proj = 28,311,552; Both-Proj = 84,934,656; Vim-tiny LoRA r=16 =
// 589,824 (+ the head). accounting_test.cpp runs them on one-layer copies of the presets,
// accounting_slow_test.cpp on the full presets.
#pragma once
#include <gtest/gtest.h>

#include "mamba/lm.h"
#include "mamba/vision.h"
#include "prodial/peft.h"
#include "prodial/tuner.h"

namespace prodial_test {

using prodial::ModelKind;

inline int64_t count(nn::Module& model, ModelKind kind, const std::string& method, const prodial::PeftOptions& o) {
  prodial::remove_adapters(model);
  return prodial::apply_peft(model, kind, method, o).trainable_params;
}

// The checks on a MambaLM built from `cfg` (n_layer layers of mamba-130m's width); the paper's totals
// are for 24 layers.
inline void check_mamba130m(const mamba::MambaConfig& cfg) {
  tensor::Generator gen(0);
  mamba::MambaLM model(cfg, &gen);
  const int64_t L = cfg.n_layer, d = cfg.d_model, E = cfg.inner(), N = cfg.d_state, R = cfg.rank();
  const int64_t to24 = 24 / L;
  prodial::PeftOptions o;
  o.rank = 16;
  const int64_t lora = L * 16 * ((d + 2 * E) + (E + d));
  EXPECT_EQ(count(model, ModelKind::LanguageModel, "lora", o), lora);
  EXPECT_EQ(lora * to24, 2359296);  // the paper's "Both-Proj LoRA 2.36M"
  EXPECT_EQ(count(model, ModelKind::LanguageModel, "dora", o), lora + L * (2 * E + d));

  o.rb_in = 768;
  o.rb_out = 1536;
  const int64_t prodial = lora + L * ((2 * E + d) + (d * d / 768 + E * E / 1536));
  EXPECT_EQ(count(model, ModelKind::LanguageModel, "prodial", o), prodial);
  EXPECT_EQ(prodial * to24, 2506752);  // the HellaSwag config 768/1536/16
  o.rb_in = o.rb_out = 64;
  o.rank = 8;
  EXPECT_EQ(count(model, ModelKind::LanguageModel, "prodial", o),
            L * 8 * ((d + 2 * E) + (E + d)) + L * ((2 * E + d) + d * d / 64 + E * E / 64));  // ARC config, ≈2.38M

  const int64_t ssm = L * ((R + 2 * N) * E + E * R + E + E * N + E);
  EXPECT_EQ(count(model, ModelKind::LanguageModel, "ssm", o), ssm);
  EXPECT_EQ(ssm * to24, 5382144);
  EXPECT_EQ(count(model, ModelKind::LanguageModel, "out-proj", o), L * E * d);
  EXPECT_EQ(L * E * d * to24, 28311552);
  EXPECT_EQ(count(model, ModelKind::LanguageModel, "in-proj", o), L * 2 * E * d);
  EXPECT_EQ(count(model, ModelKind::LanguageModel, "both-proj", o) * to24, 84934656);
  EXPECT_EQ(count(model, ModelKind::LanguageModel, "head", o), cfg.padded_vocab() * d);  // tied: the embedding
  EXPECT_EQ(count(model, ModelKind::LanguageModel, "full", o), model.num_parameters());
  o.rank = 16;
  o.train_embeddings = true;  // the embedding on top of LoRA
  EXPECT_EQ(count(model, ModelKind::LanguageModel, "lora", o), lora + cfg.padded_vocab() * d);
}

inline void check_vim_tiny(const mamba::VimConfig& cfg) {
  tensor::Generator gen(0);
  mamba::VisionMamba model(cfg, &gen);
  const int64_t L = cfg.depth, d = cfg.embed_dim, E = cfg.inner(), N = cfg.d_state, R = cfg.rank();
  const int64_t head = cfg.num_classes * d + cfg.num_classes;
  prodial::PeftOptions o;
  o.rank = 16;
  const int64_t lora = L * 16 * ((d + 2 * E) + (E + d));
  EXPECT_EQ(lora * (24 / L), 589824);
  EXPECT_EQ(count(model, ModelKind::Vision, "lora", o), lora + head);
  o.rb_in = o.rb_out = 0;  // diagonal D_b
  EXPECT_EQ(count(model, ModelKind::Vision, "prodial", o), lora + head + L * ((2 * E + d) + (d + E)));
  EXPECT_EQ(count(model, ModelKind::Vision, "ssm", o), 2 * L * ((R + 2 * N) * E + E * R + E + E * N + E) + head);
  EXPECT_EQ(count(model, ModelKind::Vision, "both-proj", o), L * 3 * E * d + head);
  EXPECT_EQ(count(model, ModelKind::Vision, "head", o), head);
  o.train_head = false;
  EXPECT_EQ(count(model, ModelKind::Vision, "lora", o), lora);
  o.train_embeddings = true;  // patch_embed (weight + bias), cls_token, pos_embed
  const int64_t emb = d * cfg.channels * cfg.patch_size * cfg.patch_size + d + d + cfg.seq_len() * d;
  EXPECT_EQ(count(model, ModelKind::Vision, "lora", o), lora + emb);
}

}  // namespace prodial_test
