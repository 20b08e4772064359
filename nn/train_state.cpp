// train_state.cpp: the checkpoint directory's writer (temp directory + renames) and reader.
#include "nn/train_state.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "nn/safetensors.h"

namespace nn {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "pm.train_state";
constexpr int kVersion = 1;

std::map<std::string, tensor::Generator*> all_generators(const Checkpointed& what) {
  auto gens = what.generators;
  gens.emplace("default", &tensor::default_generator());
  return gens;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.flush();
  if (!f) throw std::runtime_error("save_train_state: could not write " + path.string());
}

}  // namespace

void save_train_state(const std::string& dir, const Checkpointed& what, const TrainState& state) {
  const fs::path target(dir);
  if (target.empty()) throw std::invalid_argument("save_train_state: empty directory name");
  const std::string suffix = "." + std::to_string(::getpid());
  const fs::path tmp = target.string() + ".tmp" + suffix, old = target.string() + ".old" + suffix;
  std::error_code ec;  // cleanup must not throw over the real error
  try {
    fs::remove_all(tmp);
    if (target.has_parent_path()) fs::create_directories(target.parent_path());
    fs::create_directories(tmp);
    if (what.model) save_safetensors((tmp / "model.safetensors").string(), what.model->state_dict());
    if (what.optimizer) save_safetensors((tmp / "optimizer.safetensors").string(), what.optimizer->state_dict());
    nlohmann::json j;
    j["format"] = kFormat;
    j["version"] = kVersion;
    j["step"] = state.step;
    j["epoch"] = state.epoch;
    j["data_position"] = state.data_position;
    j["extra"] = state.extra;
    nlohmann::json rng = nlohmann::json::object();
    for (const auto& [name, g] : all_generators(what)) rng[name] = {{"seed", g->seed()}, {"offset", g->offset()}};
    j["rng"] = rng;
    if (what.optimizer) j["optimizer"] = what.optimizer->name();
    if (what.schedule) j["schedule"] = what.schedule->to_json();
    write_text(tmp / "train_state.json", j.dump(2) + "\n");
    // Swap: the old checkpoint moves aside, the new one takes its name, the old one goes.
    fs::remove_all(old);
    const bool had_old = fs::exists(target);
    if (had_old) fs::rename(target, old);
    try {
      fs::rename(tmp, target);
    } catch (...) {
      if (had_old) fs::rename(old, target, ec);  // put the previous checkpoint back
      throw;
    }
    fs::remove_all(old, ec);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    throw std::runtime_error(std::string("save_train_state: ") + dir + ": " + e.what());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

TrainState load_train_state(const std::string& dir, const Checkpointed& what) {
  const fs::path root(dir);
  const fs::path json_path = root / "train_state.json";
  auto fail = [&](const std::string& msg) { throw std::runtime_error("load_train_state: " + dir + ": " + msg); };
  if (!fs::is_directory(root)) fail("not a directory");
  if (!fs::exists(json_path)) fail("train_state.json is missing");
  nlohmann::json j;
  {
    std::ifstream f(json_path);
    try {
      j = nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
      fail(std::string("train_state.json is not valid JSON: ") + e.what());
    }
  }
  TrainState st;
  std::map<std::string, std::pair<uint64_t, uint64_t>> rng;
  std::optional<optim::Schedule> schedule;
  try {
    if (j.value("format", std::string()) != kFormat)
      fail(std::string("train_state.json is not a training state (format is not \"") + kFormat + "\")");
    if (j.at("version").get<int>() != kVersion)
      fail("train_state.json has version " + j.at("version").dump() + ", this build reads " + std::to_string(kVersion));
    st.step = j.at("step").get<int64_t>();
    st.epoch = j.at("epoch").get<int64_t>();
    st.data_position = j.at("data_position").get<int64_t>();
    st.extra = j.value("extra", nlohmann::json::object());
    for (const auto& [name, g] : all_generators(what)) {
      if (!j.at("rng").contains(name)) fail("train_state.json has no RNG state '" + name + "'");
      rng[name] = {j["rng"][name].at("seed").get<uint64_t>(), j["rng"][name].at("offset").get<uint64_t>()};
    }
    if (what.schedule) {
      if (!j.contains("schedule")) fail("train_state.json has no schedule");
      schedule = optim::Schedule::from_json(j["schedule"]);
    }
    if (what.optimizer) {
      if (!j.contains("optimizer")) fail("the checkpoint has no optimizer state");
      const std::string saved = j["optimizer"].get<std::string>();
      if (saved != what.optimizer->name())
        fail("the checkpoint's optimizer is " + saved + ", this run uses " + what.optimizer->name());
    }
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("train_state.json: ") + e.what());
  }
  const fs::path model_path = root / "model.safetensors", opt_path = root / "optimizer.safetensors";
  if (what.model && !fs::exists(model_path)) fail("model.safetensors is missing");
  if (what.optimizer && !fs::exists(opt_path)) fail("optimizer.safetensors is missing");

  // Read everything before changing anything, then apply.
  std::map<std::string, Tensor> model_state, opt_state;
  if (what.model) model_state = load_safetensors(model_path.string());
  if (what.optimizer) opt_state = load_safetensors(opt_path.string());
  std::map<std::string, Tensor> backup;  // the model's values, put back if the optimizer's state is refused
  if (what.model && what.optimizer)
    for (const auto& [n, t] : what.model->state_dict()) backup[n] = t.clone();
  try {
    if (what.model) what.model->load_state_dict(model_state, true);
  } catch (const std::invalid_argument& e) {
    fail(std::string("model.safetensors: ") + e.what());
  }
  try {
    if (what.optimizer) what.optimizer->load_state_dict(opt_state);
  } catch (const std::invalid_argument& e) {
    if (what.model) what.model->load_state_dict(backup, true);
    fail(std::string("optimizer.safetensors: ") + e.what());
  }
  if (what.schedule) *what.schedule = *schedule;
  for (const auto& [name, g] : all_generators(what)) {
    g->manual_seed(rng[name].first);
    g->set_offset(rng[name].second);
  }
  return st;
}

}  // namespace nn
