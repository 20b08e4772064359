// schedule.cpp: the schedule formulas, their argument checks and JSON form.
#include "nn/optim/schedule.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace nn::optim {

namespace {
void check_step(const char* op, int64_t step) {
  if (step < 0) throw std::invalid_argument(std::string(op) + ": step must be >= 0, got " + std::to_string(step));
}
void check_base(const char* op, double base) {
  if (!(base >= 0)) {
    std::ostringstream os;
    os << op << ": base_lr must be >= 0, got " << base;
    throw std::invalid_argument(os.str());
  }
}
}  // namespace

double constant_lr(int64_t step, double base_lr) {
  check_step("constant_lr", step);
  check_base("constant_lr", base_lr);
  return base_lr;
}

double warmup_cosine_lr(int64_t step, double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr) {
  const char* op = "warmup_cosine_lr";
  check_step(op, step);
  check_base(op, base_lr);
  if (warmup_steps < 0 || total_steps <= 0 || warmup_steps > total_steps)
    throw std::invalid_argument(std::string(op) + ": need 0 <= warmup_steps <= total_steps and total_steps > 0, got " +
                                std::to_string(warmup_steps) + " and " + std::to_string(total_steps));
  if (!(min_lr >= 0 && min_lr <= base_lr)) {
    std::ostringstream os;
    os << op << ": need 0 <= min_lr <= base_lr, got min_lr " << min_lr << " and base_lr " << base_lr;
    throw std::invalid_argument(os.str());
  }
  if (step < warmup_steps) return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  if (step >= total_steps) return min_lr;
  const double q = static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps);
  return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * q));
}

double step_decay_lr(int64_t step, double base_lr, int64_t step_size, double gamma) {
  const char* op = "step_decay_lr";
  check_step(op, step);
  check_base(op, base_lr);
  if (step_size <= 0) throw std::invalid_argument(std::string(op) + ": step_size must be > 0, got " + std::to_string(step_size));
  if (!(gamma >= 0)) {
    std::ostringstream os;
    os << op << ": gamma must be >= 0, got " << gamma;
    throw std::invalid_argument(os.str());
  }
  return base_lr * std::pow(gamma, static_cast<double>(step / step_size));
}

Schedule Schedule::constant(double base_lr) {
  Schedule s;
  s.kind = Kind::Constant;
  s.base_lr = base_lr;
  s.lr(0);  // validates
  return s;
}

Schedule Schedule::warmup_cosine(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr) {
  Schedule s;
  s.kind = Kind::WarmupCosine;
  s.base_lr = base_lr;
  s.warmup_steps = warmup_steps;
  s.total_steps = total_steps;
  s.min_lr = min_lr;
  s.lr(0);
  return s;
}

Schedule Schedule::step_decay(double base_lr, int64_t step_size, double gamma) {
  Schedule s;
  s.kind = Kind::StepDecay;
  s.base_lr = base_lr;
  s.step_size = step_size;
  s.gamma = gamma;
  s.lr(0);
  return s;
}

double Schedule::lr(int64_t step) const {
  switch (kind) {
    case Kind::Constant: return constant_lr(step, base_lr);
    case Kind::WarmupCosine: return warmup_cosine_lr(step, base_lr, warmup_steps, total_steps, min_lr);
    case Kind::StepDecay: return step_decay_lr(step, base_lr, step_size, gamma);
  }
  return base_lr;
}

double Schedule::factor(int64_t step) const { return base_lr == 0 ? 1.0 : lr(step) / base_lr; }

std::string Schedule::name() const {
  switch (kind) {
    case Kind::Constant: return "constant";
    case Kind::WarmupCosine: return "warmup_cosine";
    case Kind::StepDecay: return "step_decay";
  }
  return "?";
}

nlohmann::json Schedule::to_json() const {
  nlohmann::json j = {{"kind", name()}, {"base_lr", base_lr}};
  if (kind == Kind::WarmupCosine) {
    j["warmup_steps"] = warmup_steps;
    j["total_steps"] = total_steps;
    j["min_lr"] = min_lr;
  } else if (kind == Kind::StepDecay) {
    j["step_size"] = step_size;
    j["gamma"] = gamma;
  }
  return j;
}

Schedule Schedule::from_json(const nlohmann::json& j) {
  try {
    const std::string kind = j.at("kind").get<std::string>();
    const double base = j.at("base_lr").get<double>();
    if (kind == "constant") return constant(base);
    if (kind == "warmup_cosine")
      return warmup_cosine(base, j.at("warmup_steps").get<int64_t>(), j.at("total_steps").get<int64_t>(),
                           j.at("min_lr").get<double>());
    if (kind == "step_decay") return step_decay(base, j.at("step_size").get<int64_t>(), j.at("gamma").get<double>());
    throw std::invalid_argument("Schedule::from_json: unknown kind '" + kind +
                                "' (expected constant, warmup_cosine or step_decay)");
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("Schedule::from_json: ") + e.what());
  }
}

}  // namespace nn::optim
