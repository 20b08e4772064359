// optimizer.cpp: the Optimizer base: group checks and defaults, zero_grad, lr setting, and the state
// map save/load.
#include "nn/optim/optimizer.h"

#include <set>
#include <sstream>
#include <stdexcept>

#include "tensor/ops.h"

namespace nn::optim {

namespace {

Tensor scalar_f64(double v) { return tensor::from_vector<double>({v}, {1}); }
Tensor scalar_i64(int64_t v) { return tensor::from_vector<int64_t>({v}, {1}); }

std::string join(const std::vector<std::string>& xs) {
  std::string s;
  for (size_t i = 0; i < xs.size(); ++i) s += (i ? ", " : "") + xs[i];
  return s;
}

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

Optimizer::Optimizer(std::string name, std::vector<ParamGroup> groups, double default_lr, double default_weight_decay,
                     const std::map<std::string, double>& defaults)
    : name_(std::move(name)), groups_(std::move(groups)) {
  size_t total = 0;
  std::set<const void*> seen;
  std::set<std::string> keys;
  for (size_t g = 0; g < groups_.size(); ++g) {
    ParamGroup& grp = groups_[g];
    if (!grp.names.empty() && grp.names.size() != grp.params.size())
      throw std::invalid_argument(name_ + ": group " + std::to_string(g) + " has " + std::to_string(grp.params.size()) +
                                  " parameters but " + std::to_string(grp.names.size()) + " names");
    for (const auto& [k, v] : grp.options)
      if (!defaults.count(k)) {
        std::vector<std::string> known;
        for (const auto& kv : defaults) known.push_back(kv.first);
        throw std::invalid_argument(name_ + ": unknown option '" + k + "' in group " + std::to_string(g) +
                                    " (known: " + join(known) + ")");
      }
    for (const auto& [k, v] : defaults) grp.options.emplace(k, v);
    if (!grp.lr) grp.lr = default_lr;
    if (!grp.weight_decay) grp.weight_decay = default_weight_decay;
    grp.initial_lr = *grp.lr;
    for (size_t i = 0; i < grp.params.size(); ++i) {
      const Variable& p = grp.params[i];
      std::string key = param_key(g, i);
      if (!p.defined()) throw std::invalid_argument(name_ + ": parameter '" + key + "' is undefined");
      if (!tensor::is_floating(p.dtype()))
        throw std::invalid_argument(name_ + ": parameter '" + key + "' is " + tensor::dtype_name(p.dtype()) +
                                    "; only float parameters can be optimized");
      if (!seen.insert(p.impl().get()).second)
        throw std::invalid_argument(name_ + ": parameter '" + key + "' appears more than once in the groups");
      if (!keys.insert(key).second)
        throw std::invalid_argument(name_ + ": two parameters are named '" + key + "'");
    }
    total += grp.params.size();
  }
  if (total == 0) throw std::invalid_argument(name_ + ": got an empty parameter list");
  for (const auto& grp : groups_) state_.emplace_back(grp.params.size());
}

void Optimizer::validate_all() const {
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& grp = groups_[g];
    if (!(*grp.lr >= 0))
      throw std::invalid_argument(name_ + ": lr must be >= 0, got " + num(*grp.lr) + " in group " + std::to_string(g));
    if (!(*grp.weight_decay >= 0))
      throw std::invalid_argument(name_ + ": weight_decay must be >= 0, got " + num(*grp.weight_decay) + " in group " +
                                  std::to_string(g));
    validate_group(grp, g);
  }
}

std::string Optimizer::param_key(size_t group, size_t index) const {
  const ParamGroup& grp = groups_[group];
  return grp.names.empty() ? std::to_string(group) + "." + std::to_string(index) : grp.names[index];
}

void Optimizer::zero_grad() {
  for (auto& grp : groups_)
    for (auto& p : grp.params) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0)) throw std::invalid_argument(name_ + "::set_lr: lr must be >= 0, got " + num(lr));
  for (auto& grp : groups_) grp.lr = lr;
}

void Optimizer::set_lr_factor(double factor) {
  if (!(factor >= 0)) throw std::invalid_argument(name_ + "::set_lr_factor: factor must be >= 0, got " + num(factor));
  for (auto& grp : groups_) grp.lr = grp.initial_lr * factor;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out;
  out["step_count"] = scalar_i64(step_count_);
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& grp = groups_[g];
    const std::string pre = "group." + std::to_string(g) + ".";
    out[pre + "lr"] = scalar_f64(*grp.lr);
    out[pre + "initial_lr"] = scalar_f64(grp.initial_lr);
    out[pre + "weight_decay"] = scalar_f64(*grp.weight_decay);
    for (const auto& [k, v] : grp.options) out[pre + k] = scalar_f64(v);
    for (size_t i = 0; i < grp.params.size(); ++i) {
      const ParamState& st = state_[g][i];
      if (st.step == 0 && st.buffers.empty()) continue;
      const std::string sp = "state." + param_key(g, i) + ".";
      out[sp + "step"] = scalar_i64(st.step);
      for (const auto& [b, t] : st.buffers) out[sp + b] = t;
    }
  }
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  std::vector<std::string> missing, bad;
  std::set<std::string> used;
  // Reads a 1-element scalar; records it as missing or mis-shaped otherwise.
  auto scalar = [&](const std::string& key, bool required) -> std::optional<double> {
    auto it = state.find(key);
    if (it == state.end() || !it->second.defined()) {
      if (required) missing.push_back(key);
      return std::nullopt;
    }
    used.insert(key);
    if (it->second.numel() != 1) {
      bad.push_back(key + ": expected 1 element, got shape " + tensor::shape_str(it->second.shape()));
      return std::nullopt;
    }
    return it->second.reshape({1}).at({0});
  };
  auto step_count = scalar("step_count", true);
  std::vector<ParamGroup> groups = groups_;
  std::vector<std::vector<ParamState>> states(groups_.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    ParamGroup& grp = groups[g];
    const std::string pre = "group." + std::to_string(g) + ".";
    if (auto v = scalar(pre + "lr", true)) grp.lr = *v;
    if (auto v = scalar(pre + "initial_lr", true)) grp.initial_lr = *v;
    if (auto v = scalar(pre + "weight_decay", true)) grp.weight_decay = *v;
    for (auto& [k, v] : grp.options)
      if (auto x = scalar(pre + k, true)) v = *x;
    states[g].resize(grp.params.size());
    for (size_t i = 0; i < grp.params.size(); ++i) {
      const Variable& p = grp.params[i];
      const std::string sp = "state." + param_key(g, i) + ".";
      auto step = scalar(sp + "step", false);
      if (!step) continue;
      ParamState& st = states[g][i];
      st.step = static_cast<int64_t>(*step);
      for (const std::string& b : buffer_names(grp)) {
        auto it = state.find(sp + b);
        if (it == state.end() || !it->second.defined()) {
          missing.push_back(sp + b);
          continue;
        }
        used.insert(sp + b);
        if (it->second.shape() != p.shape()) {
          bad.push_back(sp + b + ": parameter " + tensor::shape_str(p.shape()) + ", given " +
                        tensor::shape_str(it->second.shape()));
          continue;
        }
        st.buffers[b] = it->second.to(p.dtype()).to(p.device()).clone();
      }
    }
  }
  std::vector<std::string> unexpected;
  for (const auto& kv : state)
    if (!used.count(kv.first)) unexpected.push_back(kv.first);
  if (!missing.empty() || !unexpected.empty() || !bad.empty()) {
    std::vector<std::string> parts;
    if (!missing.empty()) parts.push_back("missing keys: [" + join(missing) + "]");
    if (!unexpected.empty()) parts.push_back("unexpected keys: [" + join(unexpected) + "]");
    if (!bad.empty()) parts.push_back("bad values: [" + join(bad) + "]");
    std::string msg;
    for (size_t i = 0; i < parts.size(); ++i) msg += (i ? "; " : "") + parts[i];
    throw std::invalid_argument(name_ + "::load_state_dict: the state does not match this optimizer: " + msg);
  }
  // Validate the loaded hyperparameters before committing anything.
  std::vector<ParamGroup> old = std::move(groups_);
  groups_ = groups;
  try {
    validate_all();
  } catch (...) {
    groups_ = std::move(old);
    throw;
  }
  state_ = std::move(states);
  step_count_ = static_cast<int64_t>(*step_count);
}

}  // namespace nn::optim
