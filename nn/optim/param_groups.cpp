// param_groups.cpp: group builders and name predicates.
#include "nn/optim/param_groups.h"

namespace nn::optim {

namespace {
std::string last_component(const std::string& name) {
  size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

ParamGroup make_group(const NamedParams& params, std::optional<double> lr, std::optional<double> weight_decay) {
  ParamGroup g;
  for (const auto& [n, v] : params) {
    g.names.push_back(n);
    g.params.push_back(v);
  }
  g.lr = lr;
  g.weight_decay = weight_decay;
  return g;
}

bool default_no_decay(const std::string& name, const Variable& v) {
  if (v.dim() < 2) return true;
  const std::string last = last_component(name);
  if (last == "bias" || last == "D" || last == "A_log") return true;
  return name.find("norm") != std::string::npos;
}

ParamPredicate name_ends_with(std::vector<std::string> suffixes) {
  return [s = std::move(suffixes)](const std::string& name, const Variable&) {
    for (const auto& x : s)
      if (ends_with(name, x)) return true;
    return false;
  };
}

ParamPredicate name_contains(std::vector<std::string> parts) {
  return [s = std::move(parts)](const std::string& name, const Variable&) {
    for (const auto& x : s)
      if (name.find(x) != std::string::npos) return true;
    return false;
  };
}

ParamPredicate any_of(std::vector<ParamPredicate> preds) {
  return [ps = std::move(preds)](const std::string& name, const Variable& v) {
    for (const auto& p : ps)
      if (p(name, v)) return true;
    return false;
  };
}

std::vector<ParamGroup> split_decay(const NamedParams& params, double weight_decay, const ParamPredicate& no_decay) {
  NamedParams decay, keep;
  for (const auto& kv : params) {
    if (!kv.second.requires_grad()) continue;
    (no_decay(kv.first, kv.second) ? keep : decay).push_back(kv);
  }
  return {make_group(decay, std::nullopt, weight_decay), make_group(keep, std::nullopt, 0.0)};
}

}  // namespace nn::optim
