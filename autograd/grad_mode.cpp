// grad_mode.cpp: storage of the thread-local grad-mode flag.
#include "autograd/grad_mode.h"

namespace autograd {
namespace {
thread_local bool g_grad_enabled = true;
}
bool GradMode::is_enabled() { return g_grad_enabled; }
void GradMode::set_enabled(bool on) { g_grad_enabled = on; }
}  // namespace autograd
