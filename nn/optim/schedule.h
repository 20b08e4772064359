// schedule.h: learning-rate schedules, each a pure function of the step (0 for the first update):
//   constant       lr(s) = base
//   warmup_cosine  lr(s) = base * (s + 1) / warmup                      for s < warmup
//                  lr(s) = min + (base - min) * (1 + cos(pi * q)) / 2   q = (s - warmup) / (total - warmup)
//                  lr(s) = min                                          for s >= total
//   step_decay     lr(s) = base * gamma^floor(s / step_size)
// Schedule bundles one of them with its settings, converts to and from JSON (for training state),
// and gives factor(s) = lr(s) / base for Optimizer::set_lr_factor (groups keep their own base lr).
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace nn::optim {

double constant_lr(int64_t step, double base_lr);
double warmup_cosine_lr(int64_t step, double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr = 0.0);
double step_decay_lr(int64_t step, double base_lr, int64_t step_size, double gamma);

struct Schedule {
  enum class Kind { Constant, WarmupCosine, StepDecay };
  Kind kind = Kind::Constant;
  double base_lr = 1e-3;
  double min_lr = 0.0;        // warmup_cosine
  int64_t warmup_steps = 0;   // warmup_cosine
  int64_t total_steps = 1;    // warmup_cosine
  int64_t step_size = 1;      // step_decay
  double gamma = 0.1;         // step_decay

  static Schedule constant(double base_lr);
  static Schedule warmup_cosine(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr = 0.0);
  static Schedule step_decay(double base_lr, int64_t step_size, double gamma);

  double lr(int64_t step) const;
  double factor(int64_t step) const;  // lr(step) / base_lr (1 when base_lr is 0)
  std::string name() const;           // "constant", "warmup_cosine", "step_decay"

  nlohmann::json to_json() const;
  static Schedule from_json(const nlohmann::json& j);
};

}  // namespace nn::optim
