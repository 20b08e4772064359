// vision.h: VisionMamba (Vim, hustvl/Vim's VisionMamba with bimamba v2, spec §6): a strided patch
// embedding, a class token inserted in the middle of the patch sequence, an absolute position
// embedding, depth bidirectional MambaBlocks, the final RMSNorm, and a linear head on the class token.
//
// Dimension letters: B batch, C image channels, H W image size, M patches, D embed_dim (d_model),
// E d_inner, N d_state, K d_conv.
//
// Parameter names are hustvl/Vim's (spec §6.5): patch_embed.proj.{weight [D, C, p, p], bias [D]},
// cls_token [1, 1, D], pos_embed [1, M + 1, D], layers.{i}.norm.weight, layers.{i}.mixer.* (with the
// "_b" reversed branch), norm_f.weight, head.{weight [classes, D], bias}.
#pragma once
#include <memory>

#include "mamba/block.h"
#include "mamba/config.h"
#include "nn/module.h"

namespace mamba {

class VisionMamba : public nn::Module {
 public:
  // Built with Vim's initialisation order (spec §6.4) from `gen` (default generator when null);
  // stochastic depth (config.drop_path_rate) draws its masks from its own generator seeded from `gen`.
  explicit VisionMamba(const VimConfig& cfg, tensor::Generator* gen = nullptr,
                       tensor::DType dtype = tensor::DType::Float32);

  const VimConfig& config() const { return cfg_; }

  // images [B, C, H, W] (normalised) -> the class token's final features [B, D].
  Variable features(const Variable& images);
  // images -> logits [B, classes].
  Variable forward(const Variable& images);
  Variable operator()(const Variable& images) { return forward(images); }

  // (x - image_mean) / image_std per channel: raw [0, 1] images to the model's input.
  Tensor normalize(const Tensor& images) const;

 private:
  VimConfig cfg_;
  std::shared_ptr<tensor::Generator> drop_gen_;
};

}  // namespace mamba
