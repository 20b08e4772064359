// vision.cpp: VisionMamba: construction and Vim's initialisation, forward.
//
// Dimension letters: B batch, C image channels, M patches, D embed_dim.
#include "mamba/vision.h"

#include "autograd/ops.h"
#include "mamba/init.h"
#include "nn/container.h"
#include "nn/conv.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "tensor/ops.h"

namespace mamba {

namespace ag = autograd;

namespace {

// patch_embed: a Conv2d "proj" with kernel patch_size and stride `stride`; no norm (Vim's PatchEmbed).
class PatchEmbed : public nn::Module {
 public:
  PatchEmbed(const VimConfig& c, tensor::Generator* gen, tensor::DType dtype) : nn::Module("PatchEmbed") {
    register_module("proj", std::make_shared<nn::Conv2d>(c.channels, c.embed_dim, c.patch_size, c.stride, 0, true, gen, dtype));
  }
};

}  // namespace

VisionMamba::VisionMamba(const VimConfig& cfg, tensor::Generator* gen, tensor::DType dtype)
    : nn::Module("VisionMamba"), cfg_(cfg) {
  cfg_.validate();
  const int64_t D = cfg_.embed_dim;
  auto pe = register_module("patch_embed", std::make_shared<PatchEmbed>(cfg_, gen, dtype));
  register_parameter("cls_token", tensor::zeros({1, 1, D}, dtype));
  register_parameter("pos_embed", tensor::zeros({1, cfg_.seq_len(), D}, dtype));
  // stochastic depth: rate of block i = [0, linspace(0, rate, depth)][i]; the final add uses the full rate
  drop_gen_ = std::make_shared<tensor::Generator>(gen ? gen->seed() ^ 0x9e3779b97f4a7c15ULL : 0x5eed);
  auto layers = register_module("layers", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < cfg_.depth; ++i) {
    auto blk = layers->push_back(std::make_shared<MambaBlock>(cfg_.mixer(), cfg_.norm_epsilon, gen, dtype));
    const double rate = i == 0 || cfg_.depth < 2 ? 0.0
                                                 : cfg_.drop_path_rate * static_cast<double>(i - 1) /
                                                       static_cast<double>(cfg_.depth - 1);
    blk->set_drop_path(rate, drop_gen_);
  }
  register_module("norm_f", std::make_shared<nn::RMSNorm>(D, cfg_.norm_epsilon, dtype));
  auto head = register_module("head", std::make_shared<nn::Linear>(D, cfg_.num_classes, true, gen, dtype));

  // Vim's order (spec §6.4): patch_embed lecun-normal / zero bias, head trunc-normal(0.02) / zero bias,
  // pos_embed and cls_token trunc-normal(0.02), then mamba_ssm's model-level init.
  auto proj = pe->child<nn::Conv2d>("proj");
  nn::init::lecun_normal_(proj->parameter("weight").data(), gen);
  nn::init::zeros_(proj->parameter("bias").data());
  nn::init::trunc_normal_(head->weight().data(), gen, 0.0, 0.02);
  nn::init::zeros_(head->bias().data());
  nn::init::trunc_normal_(parameter("pos_embed").data(), gen, 0.0, 0.02);
  nn::init::trunc_normal_(parameter("cls_token").data(), gen, 0.0, 0.02);
  init_mamba_weights_(*this, cfg_.depth, gen);
}

Variable VisionMamba::features(const Variable& images) {
  const int64_t D = cfg_.embed_dim, M = cfg_.num_patches(), pos = cfg_.cls_position();
  if (!images.defined() || images.dim() != 4 || images.size(1) != cfg_.channels || images.size(2) != cfg_.img_size ||
      images.size(3) != cfg_.img_size)
    throw std::invalid_argument("VisionMamba: images must be [B, " + std::to_string(cfg_.channels) + ", " +
                                std::to_string(cfg_.img_size) + ", " + std::to_string(cfg_.img_size) + "], got " +
                                (images.defined() ? tensor::shape_str(images.shape()) : std::string("undefined")));
  const int64_t B = images.size(0);
  Variable x = child<nn::UnaryModule>("patch_embed.proj")->forward(images);  // [B, D, g, g]
  x = ag::transpose(ag::flatten(x, 2), 1, 2);                                 // [B, M, D], raster order
  Variable cls = ag::expand(parameter("cls_token"), {B, 1, D});
  std::vector<Variable> parts;
  if (pos > 0) parts.push_back(ag::narrow(x, 1, 0, pos));
  parts.push_back(cls);
  if (pos < M) parts.push_back(ag::narrow(x, 1, pos, M - pos));
  x = ag::add(ag::cat(parts, 1), parameter("pos_embed"));  // [B, M + 1, D]; pos_embed[pos] is the cls slot
  auto layers = child<nn::ModuleList>("layers");
  Variable hidden = x, residual;
  for (size_t i = 0; i < layers->size(); ++i) {
    auto out = layers->at<MambaBlock>(i)->forward(hidden, residual);
    hidden = out.first;
    residual = out.second;
  }
  residual = ag::add(residual, drop_path(hidden, cfg_.drop_path_rate, is_training(), drop_gen_.get()));
  Variable normed = child<nn::UnaryModule>("norm_f")->forward(residual);
  return ag::select(normed, 1, pos);  // [B, D]
}

Variable VisionMamba::forward(const Variable& images) {
  return child<nn::UnaryModule>("head")->forward(features(images));
}

Tensor VisionMamba::normalize(const Tensor& images) const {
  tensor::check_defined("VisionMamba::normalize", images, "images");
  if (images.dim() != 4 || images.size(1) != cfg_.channels)
    throw std::invalid_argument("VisionMamba::normalize: images must be [B, " + std::to_string(cfg_.channels) +
                                ", H, W], got " + tensor::shape_str(images.shape()));
  Tensor mean = tensor::from_vector(cfg_.image_mean, {1, cfg_.channels, 1, 1}).to(images.dtype()).to(images.device());
  Tensor stdv = tensor::from_vector(cfg_.image_std, {1, cfg_.channels, 1, 1}).to(images.dtype()).to(images.device());
  return tensor::div(tensor::sub(images, mean), stdv);
}

}  // namespace mamba
