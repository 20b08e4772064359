// config.h: the hyper-parameters of the Mamba LM (MambaConfig) and of Vision Mamba (VimConfig), their
// presets, generic field overrides, and their config.json forms: our own (every field, our names),
// Hugging Face MambaForCausalLM's, original mamba_ssm's, and Vim's (model_type "vim").
//
// Dimension letters: d d_model, E d_inner, N d_state, R dt_rank, K d_conv, V vocabulary.
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace mamba {

// One mixer's shape and initialisation (spec §1.1).
struct MixerConfig {
  int64_t d_model = 0, d_inner = 0, d_state = 16, d_conv = 4, dt_rank = 0;
  bool conv_bias = true, bias = false;
  double dt_min = 0.001, dt_max = 0.1, dt_init_floor = 1e-4, dt_scale = 1.0;
  std::string dt_init = "random";  // or "constant"
  bool bidirectional = false;      // bimamba v2 (Vim): a second, time-reversed branch
  bool divide_out = true;          // bidirectional only: out_proj((o_f + o_b) / 2), else o_f + o_b
};

struct MambaConfig {
  int64_t d_model = 768, n_layer = 24;
  int64_t vocab_size = 50277;             // the real vocabulary; the tables are padded (below)
  int64_t pad_vocab_size_multiple = 8;
  int64_t d_state = 16, d_conv = 4, expand = 2;
  int64_t d_inner = 0;                     // 0: expand * d_model
  int64_t dt_rank = 0;                     // 0: "auto", ceil(d_model / 16)
  double dt_min = 0.001, dt_max = 0.1, dt_init_floor = 1e-4, dt_scale = 1.0;
  std::string dt_init = "random";
  bool conv_bias = true, bias = false;
  double norm_eps = 1e-5;
  bool tie_embeddings = true;
  double initializer_range = 0.02;         // embedding std (mamba_ssm's init, spec §2.4)
  bool rescale_prenorm_residual = true;    // out_proj / sqrt(n_layer)
  int64_t bos_token_id = 0, eos_token_id = 0, pad_token_id = 0;

  int64_t inner() const { return d_inner > 0 ? d_inner : expand * d_model; }
  int64_t rank() const { return dt_rank > 0 ? dt_rank : (d_model + 15) / 16; }
  // vocab_size rounded up to pad_vocab_size_multiple: the embedding / lm_head rows.
  int64_t padded_vocab() const;
  MixerConfig mixer() const;
  // Throws std::invalid_argument naming the first bad field.
  void validate() const;
};

struct VimConfig {
  int64_t img_size = 224, patch_size = 16, stride = 16, channels = 3;
  int64_t embed_dim = 192, depth = 24;
  int64_t d_state = 16, d_conv = 4, expand = 2;
  int64_t dt_rank = 0;  // 0: ceil(embed_dim / 16)
  int64_t num_classes = 1000;
  bool use_middle_cls_token = true;  // false: the class token goes first
  bool if_divide_out = true;
  double norm_epsilon = 1e-5;
  double drop_path_rate = 0.0;
  double dt_min = 0.001, dt_max = 0.1, dt_init_floor = 1e-4, dt_scale = 1.0;
  std::string dt_init = "random";
  bool conv_bias = true, bias = false;
  std::vector<double> image_mean = {0.485, 0.456, 0.406};
  std::vector<double> image_std = {0.229, 0.224, 0.225};

  int64_t inner() const { return expand * embed_dim; }
  int64_t rank() const { return dt_rank > 0 ? dt_rank : (embed_dim + 15) / 16; }
  int64_t grid() const { return (img_size - patch_size) / stride + 1; }  // patches per side
  int64_t num_patches() const { return grid() * grid(); }                // M
  int64_t seq_len() const { return num_patches() + 1; }                  // M + the class token
  int64_t cls_position() const { return use_middle_cls_token ? num_patches() / 2 : 0; }
  MixerConfig mixer() const;
  void validate() const;
};

// ---- presets ------------------------------------------------------------------------------------------
// mamba-130m, -370m, -790m, -1.4b, -2.8b (spec §3); mamba-tiny (tests: d 16, 2 layers, V 64, N 8,
// K 3, R 3) and mamba-demo (CPU demos and the CPU benchmark shape: d 256, 4 layers, V 256).
MambaConfig mamba_preset(const std::string& name);
std::vector<std::string> mamba_preset_names();
// vim-tiny / -small / -base (patch 16, stride 16) and their -stride8 versions (spec §6.1); vim-test
// (img 16, patch 4, D 16, depth 2, N 8, 5 classes) and vim-demo (32x32 images, 10 classes).
VimConfig vim_preset(const std::string& name);
std::vector<std::string> vim_preset_names();

// ---- overrides ----------------------------------------------------------------------------------------
// Every field by its name above ("d_model", "image_mean", ...). set_field parses `value` as the field's
// type (int, float, bool "true"/"false"/1/0, string, comma-separated floats); apply_overrides takes a
// JSON object. Unknown names and unparsable values throw std::invalid_argument naming them.
void set_field(MambaConfig& c, const std::string& name, const std::string& value);
void set_field(VimConfig& c, const std::string& name, const std::string& value);
void apply_overrides(MambaConfig& c, const nlohmann::json& overrides);
void apply_overrides(VimConfig& c, const nlohmann::json& overrides);
std::vector<std::string> field_names(const MambaConfig& c);
std::vector<std::string> field_names(const VimConfig& c);

// Every field under our names.
nlohmann::json to_json(const MambaConfig& c);
nlohmann::json to_json(const VimConfig& c);

// ---- checkpoint config.json forms -------------------------------------------------------------------------
// Hugging Face MambaForCausalLM (spec §4.1): vocab_size is the padded size there, so a config read from
// HF has vocab_size = padded_vocab(). Writing needs d_inner = expand * d_model (HF derives it).
nlohmann::json to_hf_config(const MambaConfig& c);
MambaConfig from_hf_config(const nlohmann::json& j);
// original mamba_ssm (spec §4.2): d_model, n_layer, vocab_size (unpadded), ssm_cfg, ...
nlohmann::json to_mamba_ssm_config(const MambaConfig& c);
MambaConfig from_mamba_ssm_config(const nlohmann::json& j);
// Vim: model_type "vim" and the fields of VimConfig under hustvl/Vim's names.
nlohmann::json to_vim_config(const VimConfig& c);
VimConfig from_vim_config(const nlohmann::json& j);

}  // namespace mamba
