// gradcheck.h: compares an op's analytical gradients with central finite differences in float64.
// The output is projected on a fixed random direction w, so one backward pass gives the whole
// vector-Jacobian product <w, J>; each input element is then perturbed by +-eps and
// (<w, f(x+e)> - <w, f(x-e)>) / 2 eps is compared with it element by element.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace autograd {

using OpFn = std::function<Variable(const std::vector<Variable>&)>;

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-4;
  uint64_t seed = 1234;  // of the projection direction
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // the worst element: input, flat index, analytical, numerical
  double worst_ratio = 0;  // max |a - n| / (atol + rtol |n|): <= 1 passes
};

// `inputs` are float64 tensors (any layout) or integer tensors (indices, masks); float inputs in
// `wrt` (all float inputs when empty) are checked.
GradcheckResult gradcheck(const OpFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opt = {},
                          const std::vector<bool>& wrt = {});

}  // namespace autograd
