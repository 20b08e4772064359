// adapter_files.cpp: save_adapter / load_adapter in peft's layout, and the LoRA-family config fields.
#include "prodial/adapter_files.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>

#include "mamba/checkpoint.h"
#include "mamba/lm.h"
#include "nn/safetensors.h"
#include "prodial/registry.h"
#include "prodial/tuner.h"

namespace prodial {

namespace fs = std::filesystem;

namespace {

std::string last_component(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

// The adapted modules as peft target_modules: last components when they pick exactly the adapted set.
nlohmann::json adapted_target_modules(const nn::Module& model) {
  std::set<std::string> adapted, suffixes;
  for (auto& [name, a] : find_adapters(model)) {
    adapted.insert(name);
    suffixes.insert(last_component(name));
  }
  bool exact = true;
  for (auto& [name, lin] : plain_linears(model))
    if (suffixes.count(last_component(name)) && !adapted.count(name)) exact = false;
  const std::set<std::string>& chosen = exact ? suffixes : adapted;
  return nlohmann::json(std::vector<std::string>(chosen.begin(), chosen.end()));
}

// The adapter whose dotted name is the longest prefix of `key` ("<adapter>.<rest>"), or none.
std::shared_ptr<Adapter> owning_adapter(const std::vector<std::pair<std::string, std::shared_ptr<Adapter>>>& adapters,
                                        const std::string& key, std::string* rest) {
  std::shared_ptr<Adapter> best;
  size_t best_len = 0;
  for (auto& [name, a] : adapters)
    if (key.size() > name.size() + 1 && key.compare(0, name.size(), name) == 0 && key[name.size()] == '.' &&
        name.size() >= best_len) {
      best = a;
      best_len = name.size();
      *rest = key.substr(name.size() + 1);
    }
  return best;
}

}  // namespace

// ---- LoRA-family fields -------------------------------------------------------------------------------

void validate_lora_options(const PeftOptions& o) {
  if (o.rank <= 0) throw std::invalid_argument("PEFT options: rank must be positive, got " + std::to_string(o.rank));
  if (!(o.alpha > 0)) throw std::invalid_argument("PEFT options: alpha must be positive, got " + std::to_string(o.alpha));
  if (!(o.dropout >= 0 && o.dropout < 1))
    throw std::invalid_argument("PEFT options: dropout must be in [0, 1), got " + std::to_string(o.dropout));
}

void write_lora_fields(const PeftOptions& o, nlohmann::json& j, bool use_dora) {
  j["r"] = o.rank;
  j["lora_alpha"] = o.alpha;
  j["lora_dropout"] = o.dropout;
  j["use_dora"] = use_dora;
  j["use_rslora"] = false;
  j["bias"] = "none";
  j["fan_in_fan_out"] = false;
  j["init_lora_weights"] = true;
  j["inference_mode"] = true;
  j["modules_to_save"] = nullptr;
  j["rank_pattern"] = nlohmann::json::object();
  j["alpha_pattern"] = nlohmann::json::object();
}

void read_lora_fields(const nlohmann::json& j, PeftOptions& o) {
  o.rank = j.at("r").get<int64_t>();
  o.alpha = j.contains("lora_alpha") && !j["lora_alpha"].is_null() ? j["lora_alpha"].get<double>() : 8.0;
  o.dropout = j.contains("lora_dropout") && !j["lora_dropout"].is_null() ? j["lora_dropout"].get<double>() : 0.0;
  auto unsupported = [](const std::string& what) {
    throw std::invalid_argument("LoRA config: " + what + " is not supported");
  };
  if (j.value("use_rslora", false)) unsupported("use_rslora=true");
  if (j.value("fan_in_fan_out", false)) unsupported("fan_in_fan_out=true");
  if (j.contains("bias") && j["bias"].is_string() && j["bias"] != "none") unsupported("bias=\"" + j["bias"].get<std::string>() + "\"");
  for (const char* k : {"rank_pattern", "alpha_pattern"})
    if (j.contains(k) && j[k].is_object() && !j[k].empty()) unsupported(std::string(k) + " (per-module ranks)");
  if (j.value("lora_bias", false)) unsupported("lora_bias=true");
  for (const char* k : {"modules_to_save", "exclude_modules", "layer_replication", "target_parameters",
                        "trainable_token_indices"})
    if (j.contains(k) && !j[k].is_null() && !(j[k].is_array() && j[k].empty())) unsupported(k);
}

// ---- config -------------------------------------------------------------------------------------------

nlohmann::json adapter_config(const nn::Module& model, const PeftSummary& summary, const PeftOptions& opts,
                              const std::string& base_model_name) {
  const MethodSpec& spec = find_method(summary.method);
  const bool lm = dynamic_cast<const mamba::MambaLM*>(&model) != nullptr;
  nlohmann::json j = nlohmann::json::object();
  j["peft_type"] = spec.peft_type;
  if (spec.peft_type != "LORA") j["method"] = spec.name;
  j["task_type"] = lm ? nlohmann::json("CAUSAL_LM") : nlohmann::json(nullptr);
  j["base_model_name_or_path"] = base_model_name.empty() ? nlohmann::json(nullptr) : nlohmann::json(base_model_name);
  if (spec.is_adapter()) {
    j["target_modules"] = adapted_target_modules(model);
    j["layers_to_transform"] = nullptr;  // target_modules is exact already
  } else {
    const ModelKind kind = lm ? ModelKind::LanguageModel : ModelKind::Vision;
    j["target_modules"] = opts.targets.empty() ? spec.default_targets(kind) : opts.targets;
    j["layers_to_transform"] = opts.layers.empty() ? nlohmann::json(nullptr) : nlohmann::json(opts.layers);
  }
  if (spec.write_config) spec.write_config(opts, j);
  return j;
}

std::pair<std::string, PeftOptions> parse_adapter_config(const nlohmann::json& j, const std::string& where) {
  try {
    std::string method;
    const std::string type = j.at("peft_type").get<std::string>();
    if (j.contains("method")) {
      method = j["method"].get<std::string>();
    } else if (type == "LORA") {
      method = j.value("use_dora", false) ? "dora" : "lora";
    } else {
      method = type;
      std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::tolower(c); });
    }
    if (!has_method(method))
      throw std::invalid_argument("peft_type \"" + type + "\" / method \"" + method + "\" is not a registered method");
    const MethodSpec& spec = find_method(method);
    PeftOptions o;
    o.train_head = false;  // what else was trained is in the tensor file
    o.train_embeddings = false;
    if (j.contains("target_modules") && !j["target_modules"].is_null()) {
      const auto& t = j["target_modules"];
      if (t.is_string()) o.targets = {"re:" + t.get<std::string>()};
      else o.targets = t.get<std::vector<std::string>>();
    }
    if (j.contains("layers_to_transform") && !j["layers_to_transform"].is_null()) {
      const auto& l = j["layers_to_transform"];
      if (l.is_number_integer()) o.layers = {l.get<int64_t>()};
      else o.layers = l.get<std::vector<int64_t>>();
    }
    if (spec.read_config) spec.read_config(j, o);
    return {method, o};
  } catch (const std::exception& e) {
    throw std::runtime_error(where + ": " + e.what());
  }
}

// ---- save / load --------------------------------------------------------------------------------------

void save_adapter(const nn::Module& model, const PeftSummary& summary, const PeftOptions& opts, const std::string& dir,
                  const std::string& base_model_name) {
  const nlohmann::json config = adapter_config(model, summary, opts, base_model_name);
  const auto adapters = find_adapters(model);
  std::map<std::string, Tensor> tensors;
  for (auto& [name, a] : adapters)
    for (auto& [key, t] : a->adapter_state()) tensors[kPeftKeyPrefix + name + "." + key] = t;
  std::string rest;
  for (auto& name : summary.trainable) {
    if (owning_adapter(adapters, name, &rest)) continue;  // saved above under peft's name
    tensors[kPeftKeyPrefix + name] = model.parameter(name).data();
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("save_adapter: cannot create directory " + dir + ": " + ec.message());
  nn::save_safetensors((fs::path(dir) / "adapter_model.safetensors").string(), tensors, {{"format", "pt"}});
  mamba::write_json_file((fs::path(dir) / "adapter_config.json").string(), config);
}

PeftSummary load_adapter(nn::Module& model, ModelKind kind, const std::string& dir) {
  const std::string cfg_path = (fs::path(dir) / "adapter_config.json").string();
  const std::string st_path = (fs::path(dir) / "adapter_model.safetensors").string();
  if (!fs::exists(cfg_path)) throw std::runtime_error("load_adapter: " + cfg_path + " does not exist");
  if (!fs::exists(st_path))
    throw std::runtime_error("load_adapter: " + st_path + " does not exist (only safetensors adapters are read)");
  const auto [method, opts] = parse_adapter_config(mamba::read_json_file(cfg_path), cfg_path);
  const auto tensors = nn::load_safetensors(st_path);

  // Remember what was trainable so a failure can put the model back as it was.
  std::vector<std::pair<Variable, bool>> flags;
  for (auto& [name, v] : model.named_parameters()) flags.emplace_back(v, v.requires_grad());
  try {
    apply_peft(model, kind, method, opts);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(cfg_path + " does not fit the model: " + e.what());
  }
  try {
    const auto adapters = find_adapters(model);
    std::map<std::string, Variable> params;
    for (auto& [name, v] : all_named_parameters(model)) params.emplace(name, v);
    std::map<Adapter*, std::map<std::string, Tensor>> per_adapter;
    std::vector<std::pair<Variable, Tensor>> extras;
    const std::string prefix = kPeftKeyPrefix;
    for (auto& [key, t] : tensors) {
      if (key.compare(0, prefix.size(), prefix) != 0)
        throw std::runtime_error(st_path + ": tensor " + key + " lacks the \"" + prefix + "\" prefix of peft's keys");
      const std::string name = key.substr(prefix.size());
      std::string rest;
      if (auto a = owning_adapter(adapters, name, &rest)) {
        per_adapter[a.get()][rest] = t;
        continue;
      }
      auto it = params.find(name);
      if (it == params.end())
        throw std::runtime_error(st_path + ": tensor " + key + " matches no adapter or parameter of the model");
      if (it->second.shape() != t.shape())
        throw std::runtime_error(st_path + ": tensor " + key + " has shape " + tensor::shape_str(t.shape()) +
                                 ", the model's parameter is " + tensor::shape_str(it->second.shape()));
      extras.emplace_back(it->second, t);
    }
    for (auto& [name, a] : adapters) a->load_adapter_state(per_adapter[a.get()], st_path + " (" + name + ")");
    for (auto& [v, t] : extras) {
      v.set_data(t.to(v.dtype()).to(v.device()).contiguous());
      v.set_requires_grad(true);
    }
  } catch (...) {
    remove_adapters(model);
    for (auto& [v, on] : flags) v.set_requires_grad(on);
    throw;
  }
  return summarize(model, method);
}

}  // namespace prodial
