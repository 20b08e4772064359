// linalg.h (autograd): differentiable matrix products (torch.matmul semantics).
#pragma once
#include "autograd/variable.h"

namespace autograd {

Variable matmul(const Variable& a, const Variable& b);

}  // namespace autograd
