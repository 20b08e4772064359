// module.cpp: Module's registries, dotted-name lookup and replacement, enumeration, modes, moves,
// state dicts and the summary tree.
#include "nn/module.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>

namespace nn {

namespace {

std::string join(const std::vector<std::string>& xs) {
  std::string s;
  for (size_t i = 0; i < xs.size(); ++i) s += (i ? ", " : "") + xs[i];
  return s;
}

std::string prefixed(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

}  // namespace

std::string StateDictReport::str() const {
  if (ok()) return "ok";
  std::vector<std::string> parts;
  if (!missing.empty()) parts.push_back("missing keys: [" + join(missing) + "]");
  if (!unexpected.empty()) parts.push_back("unexpected keys: [" + join(unexpected) + "]");
  if (!mismatched.empty()) {
    std::vector<std::string> ms;
    for (const auto& m : mismatched)
      ms.push_back(m.name + ": module " + tensor::shape_str(m.expected) + ", given " + tensor::shape_str(m.got));
    parts.push_back("shape mismatches: [" + join(ms) + "]");
  }
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? "; " : "") + parts[i];
  return s;
}

Module::Module(std::string type_name) : type_name_(std::move(type_name)) {}

template <typename T> T* Module::find_slot(std::vector<std::pair<std::string, T>>& v, const std::string& name) {
  for (auto& kv : v)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

template <typename T>
const T* Module::find_slot(const std::vector<std::pair<std::string, T>>& v, const std::string& name) {
  for (const auto& kv : v)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

// ---- registration ---------------------------------------------------------------------------------

void Module::check_new_name(const std::string& name, const char* what) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw std::invalid_argument(std::string("Module::") + what + ": name '" + name +
                                "' must be non-empty and contain no '.'");
  if (find_slot(params_, name) || find_slot(buffers_, name) || find_slot(children_, name))
    throw std::invalid_argument(std::string("Module::") + what + ": '" + name + "' is already registered in " +
                                type_name_);
}

Variable Module::register_parameter(const std::string& name, const Tensor& data, bool requires_grad) {
  tensor::check_defined("Module::register_parameter", data, "parameter");
  check_new_name(name, "register_parameter");
  Variable v(data, requires_grad);
  params_.emplace_back(name, v);
  return v;
}

Variable Module::register_parameter(const std::string& name, const Variable& v) {
  if (!v.defined()) throw std::invalid_argument("Module::register_parameter: '" + name + "' is undefined");
  check_new_name(name, "register_parameter");
  params_.emplace_back(name, v);
  return v;
}

void Module::register_buffer(const std::string& name, const Tensor& t, bool persistent) {
  tensor::check_defined("Module::register_buffer", t, "buffer");
  check_new_name(name, "register_buffer");
  buffers_.emplace_back(name, BufferSlot{t, persistent});
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  if (!m) throw std::invalid_argument("Module::register_module: '" + name + "' is null");
  check_new_name(name, "register_module");
  children_.emplace_back(name, std::move(m));
}

// ---- lookup ---------------------------------------------------------------------------------------

std::pair<const Module*, std::string> Module::resolve(const std::string& name, const char* what) const {
  const Module* m = this;
  size_t start = 0;
  for (;;) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) return {m, name.substr(start)};
    std::string part = name.substr(start, dot - start);
    const std::shared_ptr<Module>* c = find_slot(m->children_, part);
    if (!c)
      throw std::out_of_range(std::string("Module::") + what + ": no child module '" + name.substr(0, dot) + "' in " +
                              type_name_ + " (looking up '" + name + "')");
    m = c->get();
    start = dot + 1;
  }
}

Variable Module::parameter(const std::string& name) const {
  auto [m, leaf] = resolve(name, "parameter");
  const Variable* v = find_slot(m->params_, leaf);
  if (!v) throw std::out_of_range("Module::parameter: no parameter '" + name + "' in " + type_name_);
  return *v;
}

Tensor Module::buffer(const std::string& name) const {
  auto [m, leaf] = resolve(name, "buffer");
  const BufferSlot* b = find_slot(m->buffers_, leaf);
  if (!b) throw std::out_of_range("Module::buffer: no buffer '" + name + "' in " + type_name_);
  return b->tensor;
}

std::shared_ptr<Module> Module::child(const std::string& name) const {
  auto [m, leaf] = resolve(name, "child");
  const std::shared_ptr<Module>* c = find_slot(m->children_, leaf);
  if (!c) throw std::out_of_range("Module::child: no child '" + name + "' in " + type_name_);
  return *c;
}

void Module::throw_bad_child_type(const std::string& name, const std::string& actual) const {
  throw std::invalid_argument("Module::child: '" + name + "' in " + type_name_ + " is a " + actual +
                              ", not the module type asked for");
}

bool Module::has_parameter(const std::string& name) const {
  try {
    auto [m, leaf] = resolve(name, "parameter");
    return find_slot(m->params_, leaf) != nullptr;
  } catch (const std::out_of_range&) {
    return false;
  }
}

bool Module::has_buffer(const std::string& name) const {
  try {
    auto [m, leaf] = resolve(name, "buffer");
    return find_slot(m->buffers_, leaf) != nullptr;
  } catch (const std::out_of_range&) {
    return false;
  }
}

bool Module::has_child(const std::string& name) const {
  try {
    auto [m, leaf] = resolve(name, "child");
    return find_slot(m->children_, leaf) != nullptr;
  } catch (const std::out_of_range&) {
    return false;
  }
}

const Variable& Module::local_parameter(const std::string& name) const {
  const Variable* v = find_slot(params_, name);
  if (!v) throw std::out_of_range("Module::parameter: no parameter '" + name + "' in " + type_name_);
  return *v;
}

// ---- replacement ----------------------------------------------------------------------------------

void Module::set_parameter(const std::string& name, const Variable& v) {
  auto [cm, leaf] = resolve(name, "set_parameter");
  Variable* slot = find_slot(const_cast<Module*>(cm)->params_, leaf);
  if (!slot) throw std::out_of_range("Module::set_parameter: no parameter '" + name + "' in " + type_name_);
  if (!v.defined()) throw std::invalid_argument("Module::set_parameter: the replacement for '" + name + "' is undefined");
  if (v.shape() != slot->shape())
    throw std::invalid_argument("Module::set_parameter: '" + name + "' has shape " + tensor::shape_str(slot->shape()) +
                                ", the replacement " + tensor::shape_str(v.shape()));
  *slot = v;
}

void Module::set_buffer(const std::string& name, const Tensor& t) {
  auto [cm, leaf] = resolve(name, "set_buffer");
  BufferSlot* slot = find_slot(const_cast<Module*>(cm)->buffers_, leaf);
  if (!slot) throw std::out_of_range("Module::set_buffer: no buffer '" + name + "' in " + type_name_);
  tensor::check_defined("Module::set_buffer", t, "buffer");
  if (t.shape() != slot->tensor.shape())
    throw std::invalid_argument("Module::set_buffer: '" + name + "' has shape " +
                                tensor::shape_str(slot->tensor.shape()) + ", the replacement " +
                                tensor::shape_str(t.shape()));
  slot->tensor = t;
}

void Module::replace_child(const std::string& name, std::shared_ptr<Module> m) {
  auto [cm, leaf] = resolve(name, "replace_child");
  std::shared_ptr<Module>* slot = find_slot(const_cast<Module*>(cm)->children_, leaf);
  if (!slot) throw std::out_of_range("Module::replace_child: no child '" + name + "' in " + type_name_);
  if (!m) throw std::invalid_argument("Module::replace_child: the replacement for '" + name + "' is null");
  *slot = std::move(m);
}

// ---- enumeration ----------------------------------------------------------------------------------

void Module::collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Variable>>& out) const {
  for (const auto& [n, v] : params_) out.emplace_back(prefixed(prefix, n), v);
  for (const auto& [n, c] : children_) c->collect_parameters(prefixed(prefix, n), out);
}

void Module::collect_buffers(const std::string& prefix, bool persistent_only,
                             std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [n, b] : buffers_)
    if (b.persistent || !persistent_only) out.emplace_back(prefixed(prefix, n), b.tensor);
  for (const auto& [n, c] : children_) c->collect_buffers(prefixed(prefix, n), persistent_only, out);
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Variable>> all, out;
  collect_parameters("", all);
  // A Variable registered under several names (tied weights) is listed once, under its first name.
  std::set<const void*> seen;
  for (auto& kv : all)
    if (seen.insert(kv.second.impl().get()).second) out.push_back(std::move(kv));
  return out;
}

std::vector<std::pair<std::string, Variable>> Module::named_trainable_parameters() const {
  auto all = named_parameters();
  std::vector<std::pair<std::string, Variable>> out;
  for (auto& kv : all)
    if (kv.second.requires_grad()) out.push_back(std::move(kv));
  return out;
}

std::vector<Variable> Module::parameters() const {
  std::vector<Variable> out;
  for (auto& kv : named_parameters()) out.push_back(kv.second);
  return out;
}

std::vector<Variable> Module::trainable_parameters() const {
  std::vector<Variable> out;
  for (auto& kv : named_trainable_parameters()) out.push_back(kv.second);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool persistent_only) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect_buffers("", persistent_only, out);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const { return children_; }

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  for (const auto& [n, c] : children_) {
    out.emplace_back(n, c);
    for (auto& [sub, m] : c->named_modules()) out.emplace_back(n + "." + sub, m);
  }
  return out;
}

void Module::apply(const std::function<void(const std::string&, Module&)>& fn) {
  fn("", *this);
  for (auto& [n, m] : named_modules()) fn(n, *m);
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& kv : named_parameters()) n += kv.second.numel();
  return n;
}

int64_t Module::num_trainable_parameters() const {
  int64_t n = 0;
  for (const auto& kv : named_trainable_parameters()) n += kv.second.numel();
  return n;
}

void Module::requires_grad_(bool on) {
  for (auto& kv : named_parameters()) kv.second.set_requires_grad(on);
}

// ---- modes and placement --------------------------------------------------------------------------

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::to(tensor::Device device) {
  // Convert everything first, then assign, so that a failure leaves the module as it was.
  auto params = named_parameters();
  std::vector<Tensor> data, grads;
  for (const auto& [n, v] : params) {
    data.push_back(v.data().to(device));
    grads.push_back(v.grad().defined() ? v.grad().to(device) : Tensor());
  }
  std::vector<std::pair<Module*, std::pair<std::string, Tensor>>> bufs;
  apply([&](const std::string&, Module& m) {
    for (auto& [n, b] : m.buffers_) bufs.push_back({&m, {n, b.tensor.to(device)}});
  });
  for (size_t i = 0; i < params.size(); ++i) {
    params[i].second.set_data(data[i]);
    params[i].second.set_grad(grads[i]);
  }
  for (auto& [m, nb] : bufs) find_slot(m->buffers_, nb.first)->tensor = nb.second;
}

void Module::to(tensor::DType dtype) {
  auto convert = [dtype](const Tensor& t) { return tensor::is_floating(t.dtype()) ? t.to(dtype) : t; };
  for (const auto& [n, v] : named_parameters()) {
    v.set_data(convert(v.data()));
    if (v.grad().defined()) v.set_grad(convert(v.grad()));
  }
  apply([&](const std::string&, Module& m) {
    for (auto& [n, b] : m.buffers_) b.tensor = convert(b.tensor);
  });
}

// ---- state ----------------------------------------------------------------------------------------

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  std::vector<std::pair<std::string, Variable>> params;
  collect_parameters("", params);  // every name, tied ones included (as PyTorch's state_dict)
  for (const auto& [n, v] : params) out[n] = v.data();
  for (const auto& [n, t] : named_buffers(true)) out[n] = t;
  return out;
}

StateDictReport Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  std::map<std::string, Tensor> mine = state_dict();
  StateDictReport r;
  for (const auto& [n, t] : mine) {
    auto it = state.find(n);
    if (it == state.end()) {
      r.missing.push_back(n);
    } else if (!it->second.defined()) {
      r.mismatched.push_back({n, t.shape(), {}});
    } else if (it->second.shape() != t.shape()) {
      r.mismatched.push_back({n, t.shape(), it->second.shape()});
    }
  }
  for (const auto& [n, t] : state)
    if (!mine.count(n)) r.unexpected.push_back(n);
  if (!r.mismatched.empty() || (strict && !r.ok()))
    throw std::invalid_argument("load_state_dict: the state dict does not match " + type_name_ + ": " + r.str());
  for (const auto& [n, t] : mine) {
    auto it = state.find(n);
    if (it != state.end()) t.copy_(it->second);
  }
  return r;
}

// ---- summary --------------------------------------------------------------------------------------

void Module::summary_lines(const std::string& indent, std::string& out) const {
  for (const auto& [n, v] : params_) {
    out += indent + n + " " + tensor::shape_str(v.shape()) + " " + tensor::dtype_name(v.dtype());
    if (!v.requires_grad()) out += " (frozen)";
    out += "\n";
  }
  for (const auto& [n, b] : buffers_)
    out += indent + n + " " + tensor::shape_str(b.tensor.shape()) + " " + tensor::dtype_name(b.tensor.dtype()) +
           " (buffer)\n";
  for (const auto& [n, c] : children_) {
    out += indent + n + ": " + c->type_name();
    std::string extra = c->extra_repr();
    if (!extra.empty()) out += "(" + extra + ")";
    int64_t total = c->num_parameters(), trainable = c->num_trainable_parameters();
    if (total > 0) {
      out += "  [" + std::to_string(total) + " params";
      if (trainable != total) out += ", " + std::to_string(trainable) + " trainable";
      out += "]";
    }
    out += "\n";
    c->summary_lines(indent + "  ", out);
  }
}

std::string Module::summary() const {
  std::string out = type_name_;
  std::string extra = extra_repr();
  if (!extra.empty()) out += "(" + extra + ")";
  out += ": " + std::to_string(num_parameters()) + " parameters (" + std::to_string(num_trainable_parameters()) +
         " trainable)\n";
  summary_lines("  ", out);
  return out;
}

}  // namespace nn
