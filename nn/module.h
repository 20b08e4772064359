// module.h: Module, the base of every layer and model. A module owns named parameters (trainable
// autograd::Variables), buffers (plain tensors such as running statistics) and child modules, and
// names everything by dotted paths ("layers.3.mixer.in_proj.weight"), the one naming used for
// state dicts, checkpoints, optimizer groups and adapter targeting. It also carries the train/eval
// flag, device/dtype moves, parameter counts and a printable summary tree.
//
// Forward signatures differ between modules, so Module itself declares none; UnaryModule (one
// Variable in, one out) is the common interface of Linear, the norms, convolutions, Dropout, ...
//
// Replaceability: set_parameter() and replace_child() swap what is registered under a name. A layer
// reads its own parameters through parameter("weight") at forward time and a parent reads its
// children through child<T>("name"), never through cached copies, so a replacement always takes
// effect (this is how PEFT adapters wrap a Linear).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "tensor/tensor.h"

namespace nn {

using autograd::Variable;
using tensor::Tensor;

// What load_state_dict found: keys the module has but the map lacks, keys the map has but the module
// lacks, and keys present in both whose shapes differ.
struct StateDictReport {
  struct Mismatch {
    std::string name;
    tensor::Shape expected;  // the module's
    tensor::Shape got;       // the map's
  };
  std::vector<std::string> missing;
  std::vector<std::string> unexpected;
  std::vector<Mismatch> mismatched;

  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  // "missing keys: [a, b]; unexpected keys: [c]; shape mismatches: [d: module [2, 3], given [3, 2]]"
  // (only the non-empty parts; "ok" when all are empty).
  std::string str() const;
};

class Module {
 public:
  // `type_name` is what the summary prints ("Linear", "MambaBlock", ...).
  explicit Module(std::string type_name);
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& type_name() const { return type_name_; }

  // ---- registration (local names: non-empty, no '.', unique among params, buffers, children) ----
  // Registers `data` as a leaf Variable; requires_grad needs a float tensor.
  Variable register_parameter(const std::string& name, const Tensor& data, bool requires_grad = true);
  // Registers an existing Variable (shared, not copied).
  Variable register_parameter(const std::string& name, const Variable& v);
  // Persistent buffers are part of state_dict(); non-persistent ones are not.
  void register_buffer(const std::string& name, const Tensor& t, bool persistent = true);
  template <typename M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

  // ---- lookup by dotted name (std::out_of_range naming the path when absent) ----
  Variable parameter(const std::string& name) const;
  Tensor buffer(const std::string& name) const;
  std::shared_ptr<Module> child(const std::string& name) const;
  // The child cast to M; std::invalid_argument naming both types when it is not an M.
  template <typename M> std::shared_ptr<M> child(const std::string& name) const {
    std::shared_ptr<Module> c = child(name);
    auto m = std::dynamic_pointer_cast<M>(c);
    if (!m) throw_bad_child_type(name, c->type_name());
    return m;
  }
  bool has_parameter(const std::string& name) const;
  bool has_buffer(const std::string& name) const;
  bool has_child(const std::string& name) const;

  // ---- replacement by dotted name ----
  // Replaces the Variable registered under `name` (same shape; dtype may differ).
  void set_parameter(const std::string& name, const Variable& v);
  // Replaces a buffer's tensor (same shape).
  void set_buffer(const std::string& name, const Tensor& t);
  // Replaces the child module registered under `name` by `m`.
  void replace_child(const std::string& name, std::shared_ptr<Module> m);

  // ---- enumeration (registration order, depth first; children's names prefixed "child.") ----
  // A Variable registered under several names (tied weights) appears once, under its first name, so
  // counts and optimizers see it once; state_dict() lists it under every name.
  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  // Only parameters with requires_grad: the set an optimizer should get.
  std::vector<std::pair<std::string, Variable>> named_trainable_parameters() const;
  std::vector<Variable> parameters() const;
  std::vector<Variable> trainable_parameters() const;
  // Persistent buffers only when `persistent_only`.
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool persistent_only = false) const;
  // Direct children.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // Every module below this one (not including itself), depth first, with dotted names.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules() const;
  // Calls fn(dotted name, module) on this module ("" for itself) and every descendant, parents first.
  void apply(const std::function<void(const std::string&, Module&)>& fn);

  int64_t num_parameters() const;            // elements over all parameters
  int64_t num_trainable_parameters() const;  // elements over parameters with requires_grad

  // Sets requires_grad on every parameter (freeze with false).
  void requires_grad_(bool on);

  // ---- modes and placement ----
  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Moves every parameter (keeping each Variable's identity, so optimizers stay valid), its grad and
  // every buffer. CUDA needs the CUDA backend; without it the tensor layer's error propagates and the
  // module is left unchanged.
  void to(tensor::Device device);
  // Converts floating parameters and floating buffers (integer buffers keep their dtype).
  void to(tensor::DType dtype);

  // ---- state ----
  // name -> tensor over parameters and persistent buffers. The tensors are the module's own (no copy):
  // clone them if you will modify the module and need the old values.
  std::map<std::string, Tensor> state_dict() const;
  // Copies matching entries into the module's tensors (converting dtype). Shape mismatches always
  // throw; missing and unexpected keys throw when `strict`, and are only reported otherwise. Nothing
  // is copied when it throws. The error is one std::invalid_argument line listing every bad key.
  StateDictReport load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  // A tree: "<Type>: N parameters (M trainable)" then one line per child and parameter, indented.
  std::string summary() const;
  // The text inside a layer's parentheses in the summary ("in_features=4, out_features=8, bias=true").
  virtual std::string extra_repr() const { return ""; }

 protected:
  // The Variable of a local parameter (no dots); faster than parameter() for a layer's forward.
  const Variable& local_parameter(const std::string& name) const;
  void add_child(const std::string& name, std::shared_ptr<Module> m);

 private:
  struct BufferSlot {
    Tensor tensor;
    bool persistent = true;
  };
  // The module owning the last component of `name`, and that component; throws naming `what` when a
  // middle component is not a child.
  std::pair<const Module*, std::string> resolve(const std::string& name, const char* what) const;
  void check_new_name(const std::string& name, const char* what) const;
  [[noreturn]] void throw_bad_child_type(const std::string& name, const std::string& actual) const;
  void collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Variable>>& out) const;
  void collect_buffers(const std::string& prefix, bool persistent_only,
                       std::vector<std::pair<std::string, Tensor>>& out) const;
  void summary_lines(const std::string& indent, std::string& out) const;
  template <typename T> static T* find_slot(std::vector<std::pair<std::string, T>>& v, const std::string& name);
  template <typename T>
  static const T* find_slot(const std::vector<std::pair<std::string, T>>& v, const std::string& name);

  std::string type_name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Variable>> params_;
  std::vector<std::pair<std::string, BufferSlot>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// A module with one input and one output Variable: the interface of ordinary layers.
class UnaryModule : public Module {
 public:
  using Module::Module;
  virtual Variable forward(const Variable& x) = 0;
  Variable operator()(const Variable& x) { return forward(x); }
};

}  // namespace nn
