// grad_mode.h: the thread-local switch that turns graph recording on and off, and NoGradGuard.
#pragma once

namespace autograd {

struct GradMode {
  static bool is_enabled();
  static void set_enabled(bool on);
};

// Within its scope no op records a node: use for evaluation and optimizer updates.
class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace autograd
