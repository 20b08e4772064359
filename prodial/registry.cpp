// registry.cpp: the method registry, filled with the built-in methods (methods/all_methods.cpp) on
// first use.
#include "prodial/registry.h"

#include <map>
#include <mutex>
#include <stdexcept>

namespace prodial {

void register_builtin_methods();  // methods/all_methods.cpp

namespace {

std::map<std::string, MethodSpec>& table() {
  static std::map<std::string, MethodSpec> t;
  return t;
}

void add(MethodSpec spec) {
  if (spec.name.empty()) throw std::invalid_argument("register_method: a method needs a name");
  if (!spec.default_targets)
    throw std::invalid_argument("register_method: method '" + spec.name + "' has no default_targets");
  if (spec.peft_type.empty()) throw std::invalid_argument("register_method: method '" + spec.name + "' has no peft_type");
  if (table().count(spec.name)) throw std::invalid_argument("register_method: method '" + spec.name + "' is already registered");
  std::string name = spec.name;
  table().emplace(std::move(name), std::move(spec));
}

std::once_flag builtins_once;

std::map<std::string, MethodSpec>& methods() {
  std::call_once(builtins_once, [] { register_builtin_methods(); });
  return table();
}

}  // namespace

// The built-in list calls this before the registry is marked initialised, so it must not go through
// methods() (that would re-enter call_once).
void register_builtin_method(MethodSpec spec) { add(std::move(spec)); }

void register_method(MethodSpec spec) {
  methods();
  add(std::move(spec));
}

const MethodSpec& find_method(const std::string& name) {
  auto& m = methods();
  auto it = m.find(name);
  if (it == m.end()) {
    std::string known;
    for (auto& [n, s] : m) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown PEFT method '" + name + "' (known: " + known + ")");
  }
  return it->second;
}

bool has_method(const std::string& name) { return methods().count(name) != 0; }

std::vector<std::string> method_names() {
  std::vector<std::string> out;
  for (auto& [n, s] : methods()) out.push_back(n);
  return out;
}

}  // namespace prodial
