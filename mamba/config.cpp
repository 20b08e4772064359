// config.cpp: presets, validation, field overrides and the config.json forms of MambaConfig and
// VimConfig.
#include "mamba/config.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace mamba {

namespace {

using json = nlohmann::json;
using FieldRef = std::variant<int64_t*, double*, bool*, std::string*, std::vector<double>*>;
using Fields = std::vector<std::pair<std::string, FieldRef>>;

Fields fields_of(MambaConfig& c) {
  return {{"d_model", &c.d_model},
          {"n_layer", &c.n_layer},
          {"vocab_size", &c.vocab_size},
          {"pad_vocab_size_multiple", &c.pad_vocab_size_multiple},
          {"d_state", &c.d_state},
          {"d_conv", &c.d_conv},
          {"expand", &c.expand},
          {"d_inner", &c.d_inner},
          {"dt_rank", &c.dt_rank},
          {"dt_min", &c.dt_min},
          {"dt_max", &c.dt_max},
          {"dt_init_floor", &c.dt_init_floor},
          {"dt_scale", &c.dt_scale},
          {"dt_init", &c.dt_init},
          {"conv_bias", &c.conv_bias},
          {"bias", &c.bias},
          {"norm_eps", &c.norm_eps},
          {"tie_embeddings", &c.tie_embeddings},
          {"initializer_range", &c.initializer_range},
          {"rescale_prenorm_residual", &c.rescale_prenorm_residual},
          {"bos_token_id", &c.bos_token_id},
          {"eos_token_id", &c.eos_token_id},
          {"pad_token_id", &c.pad_token_id}};
}

Fields fields_of(VimConfig& c) {
  return {{"img_size", &c.img_size},
          {"patch_size", &c.patch_size},
          {"stride", &c.stride},
          {"channels", &c.channels},
          {"embed_dim", &c.embed_dim},
          {"depth", &c.depth},
          {"d_state", &c.d_state},
          {"d_conv", &c.d_conv},
          {"expand", &c.expand},
          {"dt_rank", &c.dt_rank},
          {"num_classes", &c.num_classes},
          {"use_middle_cls_token", &c.use_middle_cls_token},
          {"if_divide_out", &c.if_divide_out},
          {"norm_epsilon", &c.norm_epsilon},
          {"drop_path_rate", &c.drop_path_rate},
          {"dt_min", &c.dt_min},
          {"dt_max", &c.dt_max},
          {"dt_init_floor", &c.dt_init_floor},
          {"dt_scale", &c.dt_scale},
          {"dt_init", &c.dt_init},
          {"conv_bias", &c.conv_bias},
          {"bias", &c.bias},
          {"image_mean", &c.image_mean},
          {"image_std", &c.image_std}};
}

template <typename Cfg> FieldRef find_field(Cfg& c, const std::string& name, const char* what) {
  for (auto& [n, ref] : fields_of(c))
    if (n == name) return ref;
  std::string known;
  for (auto& [n, ref] : fields_of(c)) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument(std::string(what) + ": unknown field '" + name + "' (known: " + known + ")");
}

[[noreturn]] void bad_value(const char* what, const std::string& name, const std::string& value, const char* type) {
  throw std::invalid_argument(std::string(what) + ": field '" + name + "' needs " + type + ", got '" + value + "'");
}

double parse_double(const char* what, const std::string& name, const std::string& s) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    bad_value(what, name, s, "a number");
  }
  if (used != s.size()) bad_value(what, name, s, "a number");
  return v;
}

template <typename Cfg> void set_field_impl(Cfg& c, const std::string& name, const std::string& value, const char* what) {
  FieldRef ref = find_field(c, name, what);
  if (auto p = std::get_if<int64_t*>(&ref)) {
    size_t used = 0;
    try {
      **p = std::stoll(value, &used);
    } catch (const std::exception&) {
      bad_value(what, name, value, "an integer");
    }
    if (used != value.size()) bad_value(what, name, value, "an integer");
  } else if (auto p = std::get_if<double*>(&ref)) {
    **p = parse_double(what, name, value);
  } else if (auto p = std::get_if<bool*>(&ref)) {
    if (value == "true" || value == "1") **p = true;
    else if (value == "false" || value == "0") **p = false;
    else bad_value(what, name, value, "true or false");
  } else if (auto p = std::get_if<std::string*>(&ref)) {
    **p = value;
  } else if (auto p = std::get_if<std::vector<double>*>(&ref)) {
    std::vector<double> out;
    std::stringstream ss(value);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(parse_double(what, name, item));
    **p = out;
  }
}

template <typename Cfg> void apply_impl(Cfg& c, const json& j, const char* what) {
  if (!j.is_object()) throw std::invalid_argument(std::string(what) + ": overrides must be a JSON object, got " + j.dump());
  for (auto it = j.begin(); it != j.end(); ++it) {
    FieldRef ref = find_field(c, it.key(), what);
    const json& v = it.value();
    auto bad = [&](const char* type) { bad_value(what, it.key(), v.dump(), type); };
    if (auto p = std::get_if<int64_t*>(&ref)) {
      if (!v.is_number_integer()) bad("an integer");
      **p = v.get<int64_t>();
    } else if (auto p = std::get_if<double*>(&ref)) {
      if (!v.is_number()) bad("a number");
      **p = v.get<double>();
    } else if (auto p = std::get_if<bool*>(&ref)) {
      if (!v.is_boolean()) bad("true or false");
      **p = v.get<bool>();
    } else if (auto p = std::get_if<std::string*>(&ref)) {
      if (!v.is_string()) bad("a string");
      **p = v.get<std::string>();
    } else if (auto p = std::get_if<std::vector<double>*>(&ref)) {
      if (!v.is_array()) bad("a list of numbers");
      std::vector<double> out;
      for (const auto& x : v) {
        if (!x.is_number()) bad("a list of numbers");
        out.push_back(x.get<double>());
      }
      **p = out;
    }
  }
}

template <typename Cfg> json to_json_impl(const Cfg& cc) {
  Cfg c = cc;
  json j = json::object();
  for (auto& [n, ref] : fields_of(c)) std::visit([&, name = n](auto* p) { j[name] = *p; }, ref);
  return j;
}

template <typename Cfg> std::vector<std::string> names_impl(const Cfg& cc) {
  Cfg c = cc;
  std::vector<std::string> out;
  for (auto& [n, ref] : fields_of(c)) out.push_back(n);
  return out;
}

void require(bool ok, const char* what, const std::string& msg) {
  if (!ok) throw std::invalid_argument(std::string(what) + ": " + msg);
}

void validate_dt(const char* what, double dt_min, double dt_max, double floor, double scale, const std::string& init) {
  require(dt_min > 0 && dt_max >= dt_min, what,
          "need 0 < dt_min <= dt_max, got dt_min " + std::to_string(dt_min) + ", dt_max " + std::to_string(dt_max));
  require(floor >= 0, what, "dt_init_floor must be >= 0, got " + std::to_string(floor));
  require(scale > 0, what, "dt_scale must be positive, got " + std::to_string(scale));
  require(init == "random" || init == "constant", what, "dt_init must be \"random\" or \"constant\", got \"" + init + "\"");
}

// A field that is an integer or "auto" (0).
int64_t int_or_auto(const json& j, const char* key, int64_t fallback) {
  if (!j.contains(key)) return fallback;
  const json& v = j.at(key);
  if (v.is_string() && v.get<std::string>() == "auto") return 0;
  if (!v.is_number_integer())
    throw std::invalid_argument(std::string("config.json: '") + key + "' must be an integer or \"auto\", got " + v.dump());
  return v.get<int64_t>();
}

template <typename T> T get_or(const json& j, const char* key, T fallback) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    throw std::invalid_argument(std::string("config.json: '") + key + "' has the wrong type: " + j.at(key).dump());
  }
}

template <typename T> T get_required(const json& j, const char* key, const char* layout) {
  if (!j.contains(key))
    throw std::invalid_argument(std::string("config.json (") + layout + "): missing required field '" + key + "'");
  return get_or<T>(j, key, T());
}

}  // namespace

// ---- derived values and validation ---------------------------------------------------------------------

int64_t MambaConfig::padded_vocab() const {
  const int64_t m = std::max<int64_t>(pad_vocab_size_multiple, 1);
  return (vocab_size + m - 1) / m * m;
}

MixerConfig MambaConfig::mixer() const {
  MixerConfig m;
  m.d_model = d_model, m.d_inner = inner(), m.d_state = d_state, m.d_conv = d_conv, m.dt_rank = rank();
  m.conv_bias = conv_bias, m.bias = bias;
  m.dt_min = dt_min, m.dt_max = dt_max, m.dt_init_floor = dt_init_floor, m.dt_scale = dt_scale, m.dt_init = dt_init;
  return m;
}

void MambaConfig::validate() const {
  const char* w = "MambaConfig";
  require(d_model > 0, w, "d_model must be positive, got " + std::to_string(d_model));
  require(n_layer > 0, w, "n_layer must be positive, got " + std::to_string(n_layer));
  require(vocab_size > 0, w, "vocab_size must be positive, got " + std::to_string(vocab_size));
  require(pad_vocab_size_multiple > 0, w,
          "pad_vocab_size_multiple must be positive, got " + std::to_string(pad_vocab_size_multiple));
  require(d_state > 0, w, "d_state must be positive, got " + std::to_string(d_state));
  require(d_conv > 0, w, "d_conv must be positive, got " + std::to_string(d_conv));
  require(expand > 0, w, "expand must be positive, got " + std::to_string(expand));
  require(d_inner >= 0, w, "d_inner must be >= 0 (0: expand * d_model), got " + std::to_string(d_inner));
  require(dt_rank >= 0, w, "dt_rank must be >= 0 (0: auto), got " + std::to_string(dt_rank));
  require(norm_eps >= 0, w, "norm_eps must be >= 0, got " + std::to_string(norm_eps));
  validate_dt(w, dt_min, dt_max, dt_init_floor, dt_scale, dt_init);
}

MixerConfig VimConfig::mixer() const {
  MixerConfig m;
  m.d_model = embed_dim, m.d_inner = inner(), m.d_state = d_state, m.d_conv = d_conv, m.dt_rank = rank();
  m.conv_bias = conv_bias, m.bias = bias;
  m.dt_min = dt_min, m.dt_max = dt_max, m.dt_init_floor = dt_init_floor, m.dt_scale = dt_scale, m.dt_init = dt_init;
  m.bidirectional = true;
  m.divide_out = if_divide_out;
  return m;
}

void VimConfig::validate() const {
  const char* w = "VimConfig";
  require(img_size > 0 && patch_size > 0 && stride > 0 && channels > 0, w,
          "img_size, patch_size, stride and channels must be positive, got " + std::to_string(img_size) + ", " +
              std::to_string(patch_size) + ", " + std::to_string(stride) + ", " + std::to_string(channels));
  require(patch_size <= img_size, w,
          "patch_size " + std::to_string(patch_size) + " is larger than img_size " + std::to_string(img_size));
  require(embed_dim > 0 && depth > 0, w,
          "embed_dim and depth must be positive, got " + std::to_string(embed_dim) + " and " + std::to_string(depth));
  require(d_state > 0 && d_conv > 0 && expand > 0, w, "d_state, d_conv and expand must be positive");
  require(dt_rank >= 0, w, "dt_rank must be >= 0 (0: auto), got " + std::to_string(dt_rank));
  require(num_classes > 0, w, "num_classes must be positive, got " + std::to_string(num_classes));
  require(norm_epsilon >= 0, w, "norm_epsilon must be >= 0");
  require(drop_path_rate >= 0 && drop_path_rate < 1, w,
          "drop_path_rate must be in [0, 1), got " + std::to_string(drop_path_rate));
  require(static_cast<int64_t>(image_mean.size()) == channels && static_cast<int64_t>(image_std.size()) == channels, w,
          "image_mean and image_std need one value per channel (" + std::to_string(channels) + ")");
  validate_dt(w, dt_min, dt_max, dt_init_floor, dt_scale, dt_init);
}

// ---- presets --------------------------------------------------------------------------------------------

MambaConfig mamba_preset(const std::string& name) {
  MambaConfig c;
  auto lm = [&](int64_t d, int64_t n) {
    c.d_model = d;
    c.n_layer = n;
  };
  if (name == "mamba-130m") lm(768, 24);
  else if (name == "mamba-370m") lm(1024, 48);
  else if (name == "mamba-790m") lm(1536, 48);
  else if (name == "mamba-1.4b") lm(2048, 48);
  else if (name == "mamba-2.8b") lm(2560, 64);
  else if (name == "mamba-tiny") {
    lm(16, 2);
    c.vocab_size = 64;
    c.d_state = 8;
    c.d_conv = 3;
    c.dt_rank = 3;
  } else if (name == "mamba-demo") {
    lm(256, 4);
    c.vocab_size = 256;
  } else {
    std::string known;
    for (const auto& n : mamba_preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("mamba_preset: unknown preset '" + name + "' (known: " + known + ")");
  }
  return c;
}

std::vector<std::string> mamba_preset_names() {
  return {"mamba-130m", "mamba-370m", "mamba-790m", "mamba-1.4b", "mamba-2.8b", "mamba-tiny", "mamba-demo"};
}

VimConfig vim_preset(const std::string& name) {
  VimConfig c;
  std::string base = name;
  const std::string s8 = "-stride8";
  if (base.size() > s8.size() && base.compare(base.size() - s8.size(), s8.size(), s8) == 0) {
    base = base.substr(0, base.size() - s8.size());
    c.stride = 8;
  }
  if (base == "vim-tiny") c.embed_dim = 192;
  else if (base == "vim-small") c.embed_dim = 384;
  else if (base == "vim-base") c.embed_dim = 768;
  else if (name == "vim-test") {
    c.img_size = 16, c.patch_size = 4, c.stride = 4, c.embed_dim = 16, c.depth = 2, c.d_state = 8, c.num_classes = 5;
  } else if (name == "vim-demo") {
    c.img_size = 32, c.patch_size = 4, c.stride = 4, c.embed_dim = 64, c.depth = 4, c.num_classes = 10;
    c.image_mean = {0.4914, 0.4822, 0.4465};
    c.image_std = {0.2470, 0.2435, 0.2616};
  } else {
    std::string known;
    for (const auto& n : vim_preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("vim_preset: unknown preset '" + name + "' (known: " + known + ")");
  }
  return c;
}

std::vector<std::string> vim_preset_names() {
  return {"vim-tiny", "vim-tiny-stride8", "vim-small", "vim-small-stride8", "vim-base", "vim-base-stride8",
          "vim-test", "vim-demo"};
}

// ---- overrides ------------------------------------------------------------------------------------------

void set_field(MambaConfig& c, const std::string& name, const std::string& value) {
  set_field_impl(c, name, value, "MambaConfig");
}
void set_field(VimConfig& c, const std::string& name, const std::string& value) {
  set_field_impl(c, name, value, "VimConfig");
}
void apply_overrides(MambaConfig& c, const json& j) { apply_impl(c, j, "MambaConfig"); }
void apply_overrides(VimConfig& c, const json& j) { apply_impl(c, j, "VimConfig"); }
std::vector<std::string> field_names(const MambaConfig& c) { return names_impl(c); }
std::vector<std::string> field_names(const VimConfig& c) { return names_impl(c); }
json to_json(const MambaConfig& c) { return to_json_impl(c); }
json to_json(const VimConfig& c) { return to_json_impl(c); }

// ---- Hugging Face ---------------------------------------------------------------------------------------

json to_hf_config(const MambaConfig& c) {
  c.validate();
  if (c.inner() != c.expand * c.d_model)
    throw std::invalid_argument("to_hf_config: d_inner " + std::to_string(c.inner()) + " is not expand * d_model = " +
                                std::to_string(c.expand * c.d_model) +
                                " (HF's MambaConfig derives intermediate_size from them)");
  json j;
  j["architectures"] = {"MambaForCausalLM"};
  j["model_type"] = "mamba";
  j["vocab_size"] = c.padded_vocab();
  j["pad_vocab_size_multiple"] = c.pad_vocab_size_multiple;
  j["hidden_size"] = c.d_model;
  j["intermediate_size"] = c.inner();
  j["num_hidden_layers"] = c.n_layer;
  j["state_size"] = c.d_state;
  j["conv_kernel"] = c.d_conv;
  j["expand"] = c.expand;
  j["time_step_rank"] = c.rank();
  j["time_step_min"] = c.dt_min;
  j["time_step_max"] = c.dt_max;
  j["time_step_floor"] = c.dt_init_floor;
  j["time_step_scale"] = c.dt_scale;
  j["time_step_init_scheme"] = c.dt_init;
  j["use_bias"] = c.bias;
  j["use_conv_bias"] = c.conv_bias;
  j["hidden_act"] = "silu";
  j["layer_norm_epsilon"] = c.norm_eps;
  j["residual_in_fp32"] = true;
  j["rms_norm"] = true;
  j["fused_add_norm"] = true;
  // HF's own initialisation settings (ours stay in our config): HF applies rescale_prenorm_residual
  // by dividing out_proj.weight in place, which transformers 5.x also does to weights it has just
  // loaded, so it must be false here (as in the released configs).
  j["initializer_range"] = 0.1;
  j["rescale_prenorm_residual"] = false;
  j["tie_word_embeddings"] = c.tie_embeddings;
  j["bos_token_id"] = c.bos_token_id;
  j["eos_token_id"] = c.eos_token_id;
  j["pad_token_id"] = c.pad_token_id;
  j["use_cache"] = true;
  j["torch_dtype"] = "float32";
  return j;
}

MambaConfig from_hf_config(const json& j) {
  const char* layout = "Hugging Face mamba";
  if (j.contains("model_type") && j.at("model_type") != "mamba")
    throw std::invalid_argument("config.json (" + std::string(layout) + "): model_type is " + j.at("model_type").dump() +
                                ", expected \"mamba\"");
  MambaConfig c;
  c.d_model = j.contains("hidden_size") ? get_required<int64_t>(j, "hidden_size", layout)
                                        : get_required<int64_t>(j, "d_model", layout);
  c.n_layer = j.contains("num_hidden_layers") ? get_required<int64_t>(j, "num_hidden_layers", layout)
                                              : get_required<int64_t>(j, "n_layer", layout);
  c.vocab_size = get_required<int64_t>(j, "vocab_size", layout);
  c.pad_vocab_size_multiple = get_or<int64_t>(j, "pad_vocab_size_multiple", 8);
  c.d_state = get_or<int64_t>(j, "state_size", 16);
  c.d_conv = get_or<int64_t>(j, "conv_kernel", 4);
  c.expand = get_or<int64_t>(j, "expand", 2);
  const int64_t inner = get_or<int64_t>(j, "intermediate_size", c.expand * c.d_model);
  c.d_inner = inner == c.expand * c.d_model ? 0 : inner;
  c.dt_rank = int_or_auto(j, "time_step_rank", 0);
  c.dt_min = get_or<double>(j, "time_step_min", c.dt_min);
  c.dt_max = get_or<double>(j, "time_step_max", c.dt_max);
  c.dt_init_floor = get_or<double>(j, "time_step_floor", c.dt_init_floor);
  c.dt_scale = get_or<double>(j, "time_step_scale", c.dt_scale);
  c.dt_init = get_or<std::string>(j, "time_step_init_scheme", c.dt_init);
  c.bias = get_or<bool>(j, "use_bias", true);  // HF's default is True
  c.conv_bias = get_or<bool>(j, "use_conv_bias", true);
  c.norm_eps = get_or<double>(j, "layer_norm_epsilon", 1e-5);
  c.tie_embeddings = get_or<bool>(j, "tie_word_embeddings", true);
  c.bos_token_id = get_or<int64_t>(j, "bos_token_id", 0);
  c.eos_token_id = get_or<int64_t>(j, "eos_token_id", 0);
  c.pad_token_id = get_or<int64_t>(j, "pad_token_id", 0);
  const std::string act = get_or<std::string>(j, "hidden_act", "silu");
  if (act != "silu")
    throw std::invalid_argument("config.json (" + std::string(layout) + "): hidden_act \"" + act +
                                "\" is not supported (only \"silu\")");
  if (!get_or<bool>(j, "rms_norm", true))
    throw std::invalid_argument("config.json (" + std::string(layout) + "): rms_norm false is not supported");
  c.validate();
  return c;
}

// ---- original mamba_ssm ---------------------------------------------------------------------------------

json to_mamba_ssm_config(const MambaConfig& c) {
  c.validate();
  json ssm = json::object();
  ssm["layer"] = "Mamba1";
  ssm["d_state"] = c.d_state;
  ssm["d_conv"] = c.d_conv;
  ssm["expand"] = c.expand;
  if (c.dt_rank > 0) ssm["dt_rank"] = c.dt_rank;
  else ssm["dt_rank"] = "auto";
  ssm["dt_min"] = c.dt_min;
  ssm["dt_max"] = c.dt_max;
  ssm["dt_init"] = c.dt_init;
  ssm["dt_scale"] = c.dt_scale;
  ssm["dt_init_floor"] = c.dt_init_floor;
  ssm["conv_bias"] = c.conv_bias;
  ssm["bias"] = c.bias;
  if (c.inner() != c.expand * c.d_model)
    throw std::invalid_argument("to_mamba_ssm_config: d_inner " + std::to_string(c.inner()) +
                                " is not expand * d_model (mamba_ssm derives it)");
  json j;
  j["d_model"] = c.d_model;
  j["d_intermediate"] = 0;
  j["n_layer"] = c.n_layer;
  j["vocab_size"] = c.vocab_size;
  j["ssm_cfg"] = ssm;
  j["attn_layer_idx"] = json::array();
  j["attn_cfg"] = json::object();
  j["rms_norm"] = true;
  j["residual_in_fp32"] = true;
  j["fused_add_norm"] = true;
  j["pad_vocab_size_multiple"] = c.pad_vocab_size_multiple;
  j["tie_embeddings"] = c.tie_embeddings;
  return j;
}

MambaConfig from_mamba_ssm_config(const json& j) {
  const char* layout = "mamba_ssm";
  MambaConfig c;
  c.d_model = get_required<int64_t>(j, "d_model", layout);
  c.n_layer = get_required<int64_t>(j, "n_layer", layout);
  c.vocab_size = get_required<int64_t>(j, "vocab_size", layout);
  c.pad_vocab_size_multiple = get_or<int64_t>(j, "pad_vocab_size_multiple", 8);
  c.tie_embeddings = get_or<bool>(j, "tie_embeddings", true);
  if (get_or<int64_t>(j, "d_intermediate", 0) != 0)
    throw std::invalid_argument("config.json (mamba_ssm): d_intermediate != 0 (an MLP after each mixer) is not supported");
  if (j.contains("attn_layer_idx") && !j.at("attn_layer_idx").empty())
    throw std::invalid_argument("config.json (mamba_ssm): attention layers (attn_layer_idx) are not supported");
  if (!get_or<bool>(j, "rms_norm", true))
    throw std::invalid_argument("config.json (mamba_ssm): rms_norm false is not supported");
  const json ssm = j.contains("ssm_cfg") && j.at("ssm_cfg").is_object() ? j.at("ssm_cfg") : json::object();
  const std::string layer = get_or<std::string>(ssm, "layer", "Mamba1");
  if (layer != "Mamba1")
    throw std::invalid_argument("config.json (mamba_ssm): ssm_cfg.layer \"" + layer + "\" is not supported (only Mamba1)");
  c.d_state = get_or<int64_t>(ssm, "d_state", 16);
  c.d_conv = get_or<int64_t>(ssm, "d_conv", 4);
  c.expand = get_or<int64_t>(ssm, "expand", 2);
  c.dt_rank = int_or_auto(ssm, "dt_rank", 0);
  c.dt_min = get_or<double>(ssm, "dt_min", c.dt_min);
  c.dt_max = get_or<double>(ssm, "dt_max", c.dt_max);
  c.dt_init = get_or<std::string>(ssm, "dt_init", c.dt_init);
  c.dt_scale = get_or<double>(ssm, "dt_scale", c.dt_scale);
  c.dt_init_floor = get_or<double>(ssm, "dt_init_floor", c.dt_init_floor);
  c.conv_bias = get_or<bool>(ssm, "conv_bias", true);
  c.bias = get_or<bool>(ssm, "bias", false);
  c.validate();
  return c;
}

// ---- Vim ------------------------------------------------------------------------------------------------

json to_vim_config(const VimConfig& c) {
  c.validate();
  json j;
  j["model_type"] = "vim";
  j["img_size"] = c.img_size;
  j["patch_size"] = c.patch_size;
  j["stride"] = c.stride;
  j["channels"] = c.channels;
  j["embed_dim"] = c.embed_dim;
  j["depth"] = c.depth;
  j["d_state"] = c.d_state;
  j["d_conv"] = c.d_conv;
  j["expand"] = c.expand;
  j["dt_rank"] = c.rank();
  j["num_classes"] = c.num_classes;
  j["use_middle_cls_token"] = c.use_middle_cls_token;
  j["if_divide_out"] = c.if_divide_out;
  j["norm_epsilon"] = c.norm_epsilon;
  j["drop_path_rate"] = c.drop_path_rate;
  j["bimamba_type"] = "v2";
  j["image_mean"] = c.image_mean;
  j["image_std"] = c.image_std;
  return j;
}

VimConfig from_vim_config(const json& j) {
  const char* layout = "vim";
  if (get_or<std::string>(j, "model_type", "") != "vim")
    throw std::invalid_argument("config.json (vim): model_type must be \"vim\", got " +
                                (j.contains("model_type") ? j.at("model_type").dump() : std::string("nothing")));
  VimConfig c;
  c.img_size = get_or<int64_t>(j, "img_size", c.img_size);
  c.patch_size = get_or<int64_t>(j, "patch_size", c.patch_size);
  c.stride = get_or<int64_t>(j, "stride", c.patch_size);
  c.channels = get_or<int64_t>(j, "channels", c.channels);
  c.embed_dim = get_required<int64_t>(j, "embed_dim", layout);
  c.depth = get_required<int64_t>(j, "depth", layout);
  c.d_state = get_or<int64_t>(j, "d_state", c.d_state);
  c.d_conv = get_or<int64_t>(j, "d_conv", c.d_conv);
  c.expand = get_or<int64_t>(j, "expand", c.expand);
  c.dt_rank = int_or_auto(j, "dt_rank", 0);
  c.num_classes = get_required<int64_t>(j, "num_classes", layout);
  c.use_middle_cls_token = get_or<bool>(j, "use_middle_cls_token", true);
  c.if_divide_out = get_or<bool>(j, "if_divide_out", true);
  c.norm_epsilon = get_or<double>(j, "norm_epsilon", 1e-5);
  c.drop_path_rate = get_or<double>(j, "drop_path_rate", 0.0);
  if (j.contains("image_mean")) c.image_mean = j.at("image_mean").get<std::vector<double>>();
  if (j.contains("image_std")) c.image_std = j.at("image_std").get<std::vector<double>>();
  const std::string bimamba = get_or<std::string>(j, "bimamba_type", "v2");
  if (bimamba != "v2")
    throw std::invalid_argument("config.json (vim): bimamba_type \"" + bimamba + "\" is not supported (only \"v2\")");
  if (!get_or<bool>(j, "if_cls_token", true))
    throw std::invalid_argument("config.json (vim): if_cls_token false (mean pooling) is not supported");
  c.validate();
  return c;
}

}  // namespace mamba
