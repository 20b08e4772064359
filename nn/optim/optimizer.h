// optimizer.h: Optimizer, the base of SGD and AdamW: parameter groups (each with its own lr,
// weight decay and method-specific options), per-parameter state, zero_grad, learning-rate setting
// for schedules, and state save/load through a name -> Tensor map that safetensors can store.
//
// State map layout (every scalar is a 1-element tensor: float64 for hyperparameters, int64 for counts):
//   step_count                       int64   number of step() calls
//   group.<g>.lr, group.<g>.initial_lr, group.<g>.weight_decay, group.<g>.<option>    float64
//   state.<key>.step                 int64   updates this parameter received
//   state.<key>.<buffer>             the method's buffers (momentum_buffer; exp_avg, exp_avg_sq)
// where <key> is the parameter's name in its group (ParamGroup::names) or "<g>.<i>" when unnamed.
// A parameter that was never updated has no state.* entries.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "tensor/tensor.h"

namespace nn::optim {

using autograd::Variable;
using tensor::Tensor;

struct ParamGroup {
  std::vector<Variable> params;
  // Names parallel to `params` (e.g. from Module::named_parameters), or empty. They name the state
  // entries and errors, so a checkpoint's optimizer state stays readable and matches by name.
  std::vector<std::string> names;
  // Unset: the optimizer's default. The optimizer fills both in at construction.
  std::optional<double> lr, weight_decay;
  // Method-specific values; missing keys take the optimizer's defaults, unknown keys are rejected.
  // SGD: momentum, dampening, nesterov (0 or 1). AdamW: beta1, beta2, eps.
  std::map<std::string, double> options;
  // The lr at construction (set by the optimizer); set_lr_factor scales it.
  double initial_lr = 0;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient (others are skipped), under NoGradGuard.
  virtual void step() = 0;
  // Drops every parameter's gradient (the next backward starts from nothing).
  void zero_grad();

  const std::string& name() const { return name_; }
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  // Sets every group's lr.
  void set_lr(double lr);
  // Sets every group's lr to its initial_lr * factor (what a schedule's factor(step) gives).
  void set_lr_factor(double factor);
  int64_t step_count() const { return step_count_; }

  std::map<std::string, Tensor> state_dict() const;
  // Restores hyperparameters, counts and buffers. Every key must be known and every group key
  // present; buffers must have their parameter's shape. Otherwise std::invalid_argument lists the
  // missing, unexpected and mis-shaped keys, and nothing is changed.
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  // `defaults` lists every option the method knows, with its default value.
  Optimizer(std::string name, std::vector<ParamGroup> groups, double default_lr, double default_weight_decay,
            const std::map<std::string, double>& defaults);

  struct ParamState {
    int64_t step = 0;
    std::map<std::string, Tensor> buffers;
  };
  ParamState& state(size_t group, size_t index) { return state_[group][index]; }
  // The buffers a parameter of group `g` has after its first update (for load checks).
  virtual std::vector<std::string> buffer_names(const ParamGroup& g) const = 0;
  // One group holding `params` with the optimizer's defaults (the plain-list constructors).
  static std::vector<ParamGroup> single_group(const std::vector<Variable>& params) {
    ParamGroup g;
    g.params = params;
    return {g};
  }
  // Throws std::invalid_argument for bad hyperparameters of group `index`.
  virtual void validate_group(const ParamGroup& g, size_t index) const = 0;
  void validate_all() const;
  std::string param_key(size_t group, size_t index) const;

  int64_t step_count_ = 0;

 private:
  std::string name_;
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<ParamState>> state_;
};

}  // namespace nn::optim
