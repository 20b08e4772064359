// node.cpp: node bookkeeping, leaf accumulation, and iterative graph destruction.
#include "autograd/node.h"

#include <atomic>

#include "autograd/variable.h"
#include "tensor/ops/elementwise.h"

namespace autograd {
namespace {
std::atomic<uint64_t> g_next_sequence_nr{0};

// Destroying a long chain of nodes through nested shared_ptr destructors would recurse once per
// node and overflow the stack. Instead the outermost destructor takes the edges of every node that
// dies during its run into this list and releases them one by one.
thread_local std::vector<std::shared_ptr<Node>>* t_pending = nullptr;
}  // namespace

Node::Node() : sequence_nr(g_next_sequence_nr++) {}

Node::~Node() {
  if (t_pending) {  // an outer destructor is draining: hand our edges to it
    for (auto& e : next)
      if (e) t_pending->push_back(std::move(e));
    return;
  }
  std::vector<std::shared_ptr<Node>> pending;
  t_pending = &pending;
  for (auto& e : next)
    if (e) pending.push_back(std::move(e));
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    n.reset();  // may run ~Node of n, which appends n's edges to `pending`
  }
  t_pending = nullptr;
}

std::set<std::string>& differentiable_ops() {
  static std::set<std::string> ops;
  return ops;
}

std::vector<Tensor> AccumulateGrad::backward(const Tensor& g) {
  const Tensor& d = var->data;
  if (g.shape() != d.shape())
    throw std::logic_error("backward: gradient of shape " + tensor::shape_str(g.shape()) +
                           " reached a leaf of shape " + tensor::shape_str(d.shape()));
  if (!var->grad.defined()) {
    // Keep g itself when nothing else can see its storage (the usual case: a fresh gradient the engine
    // hands over); otherwise an own copy, since g may be shared with other edges or be a view.
    const bool sole_owner = g.storage().use_count() == 1 && g.dtype() == d.dtype() && g.is_contiguous() &&
                            g.offset() == 0 &&
                            static_cast<size_t>(g.numel()) * g.element_size() == g.storage()->nbytes();
    var->grad = sole_owner ? g : g.to(d.dtype()).clone();
  } else {
    tensor::add_(var->grad, g);
  }
  return {};
}

}  // namespace autograd
