// clip_grad.h: gradient norms and clipping by the global norm, as torch.nn.utils.clip_grad_norm_.
#pragma once
#include <vector>

#include "autograd/variable.h"

namespace nn::optim {

// The norm of all gradients taken together, (sum_p ||g_p||_q^q)^(1/q) for norm_type q >= 1, or the
// largest |g| for q = infinity. Parameters without a gradient are skipped (0 when none has one).
double grad_norm(const std::vector<autograd::Variable>& params, double norm_type = 2.0);

// Scales every gradient in place by min(1, max_norm / (total + 1e-6)) and returns the total norm
// from before clipping. With error_if_nonfinite, a nan or inf total throws std::runtime_error and
// leaves the gradients untouched.
double clip_grad_norm(const std::vector<autograd::Variable>& params, double max_norm, double norm_type = 2.0,
                      bool error_if_nonfinite = false);

}  // namespace nn::optim
