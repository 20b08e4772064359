// checkpoint.cpp: reading and writing model directories (HuggingFace, original mamba_ssm, Vim).
#include "mamba/checkpoint.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "nn/safetensors.h"
#include "tensor/ops.h"

namespace mamba {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kHFEmbedding = "backbone.embeddings.weight";
constexpr const char* kSSMEmbedding = "backbone.embedding.weight";
constexpr const char* kLmHead = "lm_head.weight";
// Safetensors metadata key keeping the unpadded vocabulary (HF's config only knows the padded one).
constexpr const char* kVocabMeta = "pm_vocab_size";

std::string join_path(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

// Loads `state` into `model`, prefixing errors with where the weights came from.
void load_into(nn::Module& model, const std::map<std::string, Tensor>& state, const std::string& dir) {
  try {
    model.load_state_dict(state, true);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(dir + ": the weights do not fit the model of its config.json: " + e.what());
  }
}

// Module state under its checkpoint names, in the parameters' own dtype.
std::map<std::string, Tensor> export_state(const nn::Module& m) { return m.state_dict(); }

void prepare_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw std::runtime_error(dir + ": cannot create the model directory: " + ec.message());
}

}  // namespace

const char* layout_name(CheckpointLayout l) {
  switch (l) {
    case CheckpointLayout::HuggingFace: return "huggingface";
    case CheckpointLayout::MambaSSM: return "mamba_ssm";
    case CheckpointLayout::Vim: return "vim";
  }
  return "?";
}

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error(path + ": not valid JSON: " + e.what());
  }
}

void write_json_file(const std::string& path, const json& j) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw std::runtime_error(path + ": cannot write (" + tmp + ")");
    out << j.dump(2) << "\n";
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw std::runtime_error(path + ": write failed");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot replace: " + ec.message());
  }
}

CheckpointLayout detect_layout(const std::string& dir) {
  const std::string cfg = join_path(dir, "config.json");
  if (!fs::exists(cfg)) throw std::runtime_error(dir + ": not a model directory (no config.json)");
  const json j = read_json_file(cfg);
  const std::string type = j.contains("model_type") && j.at("model_type").is_string() ? j.at("model_type").get<std::string>() : "";
  if (type == "vim") return CheckpointLayout::Vim;
  if (type == "mamba" || j.contains("hidden_size")) return CheckpointLayout::HuggingFace;
  if (j.contains("d_model") && j.contains("n_layer")) return CheckpointLayout::MambaSSM;
  throw std::runtime_error(cfg + ": cannot tell the checkpoint layout (expected model_type \"mamba\" or \"vim\", "
                           "or mamba_ssm's d_model and n_layer)");
}

std::map<std::string, Tensor> load_weights(const std::string& dir, tensor::DType dtype,
                                           std::map<std::string, std::string>* metadata) {
  nn::SafetensorsLoadOptions opt;
  opt.float_dtype = dtype;
  const std::string single = join_path(dir, "model.safetensors"), index = join_path(dir, "model.safetensors.index.json");
  if (fs::exists(single)) return nn::load_safetensors(single, opt, metadata);
  if (fs::exists(index)) {
    const json j = read_json_file(index);
    if (!j.contains("weight_map") || !j.at("weight_map").is_object())
      throw std::runtime_error(index + ": no \"weight_map\" object");
    std::set<std::string> shards;
    for (auto it = j.at("weight_map").begin(); it != j.at("weight_map").end(); ++it) shards.insert(it.value().get<std::string>());
    std::map<std::string, Tensor> all;
    bool first = true;
    for (const auto& s : shards) {
      auto part = nn::load_safetensors(join_path(dir, s), opt, first ? metadata : nullptr);
      first = false;
      for (auto& [k, v] : part) all[k] = v;
    }
    return all;
  }
  if (fs::exists(join_path(dir, "pytorch_model.bin")))
    throw std::runtime_error(dir + ": holds pytorch_model.bin (a torch pickle), which is not read here; convert it "
                             "to model.safetensors first (e.g. safetensors.torch.save_file(torch.load(...)))");
  throw std::runtime_error(dir + ": no model.safetensors or model.safetensors.index.json");
}

std::shared_ptr<MambaLM> load_mamba_lm(const std::string& dir, tensor::DType dtype) {
  const CheckpointLayout layout = detect_layout(dir);
  const json j = read_json_file(join_path(dir, "config.json"));
  MambaConfig cfg;
  try {
    if (layout == CheckpointLayout::HuggingFace) cfg = from_hf_config(j);
    else if (layout == CheckpointLayout::MambaSSM) cfg = from_mamba_ssm_config(j);
    else throw std::invalid_argument("this is a Vim directory, not a Mamba language model");
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(join_path(dir, "config.json") + ": " + e.what());
  }
  std::map<std::string, std::string> meta;
  std::map<std::string, Tensor> state = load_weights(dir, dtype, &meta);
  if (layout == CheckpointLayout::MambaSSM) {
    auto it = state.find(kSSMEmbedding);
    if (it != state.end()) {
      state[kHFEmbedding] = it->second;
      state.erase(it);
    }
  }
  // HF keeps only the padded vocabulary in its config; ours rides along in the safetensors metadata.
  if (auto it = meta.find(kVocabMeta); it != meta.end() && layout == CheckpointLayout::HuggingFace) {
    MambaConfig c2 = cfg;
    try {
      c2.vocab_size = std::stoll(it->second);
    } catch (const std::exception&) {
      throw std::runtime_error(join_path(dir, "model.safetensors") + ": metadata " + kVocabMeta + " = '" + it->second +
                               "' is not an integer");
    }
    if (c2.vocab_size > 0 && c2.padded_vocab() == cfg.padded_vocab()) cfg = c2;
  }
  tensor::Generator gen(0);
  auto model = std::make_shared<MambaLM>(cfg, &gen, dtype);
  if (model->tied()) {
    state.erase(kLmHead);  // absent (HF drops tied tensors) or an alias of the embedding
    if (state.count(kHFEmbedding)) state[kLmHead] = state[kHFEmbedding];
  } else if (!state.count(kLmHead)) {
    throw std::runtime_error(dir + ": the config says the lm_head is not tied, but the weights have no " + kLmHead);
  }
  load_into(*model, state, dir);
  return model;
}

void save_mamba_lm(const MambaLM& model, const std::string& dir, CheckpointLayout layout) {
  if (layout == CheckpointLayout::Vim) throw std::invalid_argument("save_mamba_lm: the Vim layout is for VisionMamba");
  const MambaConfig& cfg = model.config();
  const json config = layout == CheckpointLayout::HuggingFace ? to_hf_config(cfg) : to_mamba_ssm_config(cfg);
  std::map<std::string, Tensor> state = export_state(model);
  std::map<std::string, std::string> meta = {{"format", "pt"}};
  if (layout == CheckpointLayout::HuggingFace) {
    if (model.tied()) state.erase(kLmHead);  // as HF writes tied weights: once
    if (cfg.padded_vocab() != cfg.vocab_size) meta[kVocabMeta] = std::to_string(cfg.vocab_size);
  } else {
    state[kSSMEmbedding] = state.at(kHFEmbedding);
    state.erase(kHFEmbedding);
    if (model.tied()) state[kLmHead] = state.at(kSSMEmbedding).clone();  // mamba_ssm loads it strictly
  }
  prepare_dir(dir);
  nn::save_safetensors(join_path(dir, "model.safetensors"), state, meta);
  write_json_file(join_path(dir, "config.json"), config);
}

std::shared_ptr<VisionMamba> load_vision_mamba(const std::string& dir, tensor::DType dtype) {
  const std::string cfg_path = join_path(dir, "config.json");
  if (detect_layout(dir) != CheckpointLayout::Vim)
    throw std::runtime_error(cfg_path + ": not a Vim checkpoint (model_type must be \"vim\")");
  VimConfig cfg;
  try {
    cfg = from_vim_config(read_json_file(cfg_path));
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(cfg_path + ": " + e.what());
  }
  std::map<std::string, Tensor> state = load_weights(dir, dtype);
  tensor::Generator gen(0);
  auto model = std::make_shared<VisionMamba>(cfg, &gen, dtype);
  load_into(*model, state, dir);
  return model;
}

void save_vision_mamba(const VisionMamba& model, const std::string& dir) {
  const json config = to_vim_config(model.config());
  prepare_dir(dir);
  nn::save_safetensors(join_path(dir, "model.safetensors"), export_state(model), {{"format", "pt"}});
  write_json_file(join_path(dir, "config.json"), config);
}

}  // namespace mamba
