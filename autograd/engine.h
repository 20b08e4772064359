// engine.h: the backward pass. Visits the graph below a root in an iterative topological order
// (no recursion, so chains of any length work), hands each node the sum of the gradients flowing
// into it once all have arrived, and accumulates into leaves. Unless retain_graph is set, each
// node's saved tensors are freed as soon as it has run.
#pragma once
#include "autograd/variable.h"

namespace autograd {

void run_backward(const Variable& root, const Tensor& grad, bool retain_graph);

}  // namespace autograd
