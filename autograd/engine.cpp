// engine.cpp: run_backward, the iterative topological walk over the backward graph.
#include "autograd/engine.h"

#include <queue>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "tensor/ops/creation.h"
#include "tensor/ops/elementwise.h"

namespace autograd {

void run_backward(const Variable& root, const Tensor& grad_in, bool retain_graph) {
  if (!root.defined()) throw std::invalid_argument("backward: variable is undefined");
  if (!root.requires_grad())
    throw std::invalid_argument("backward: the variable does not require grad (no input needed a gradient, "
                                "or it was computed under NoGradGuard)");
  Tensor grad = grad_in;
  if (!grad.defined()) {
    if (root.numel() != 1)
      throw std::invalid_argument("backward: a gradient must be given for an output of shape " +
                                  tensor::shape_str(root.shape()) + " (only one-element outputs default to 1)");
    grad = tensor::ones_like(root.data());
  } else if (grad.shape() != root.shape()) {
    throw std::invalid_argument("backward: gradient of shape " + tensor::shape_str(grad.shape()) +
                                " for an output of shape " + tensor::shape_str(root.shape()));
  }
  NoGradGuard no_grad;  // backward functions use plain tensor ops; nothing is recorded
  std::shared_ptr<Node> start = root.gradient_edge();

  // 1. count, for every node reachable from the root, how many edges lead into it (iterative DFS).
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack{start.get()};
  deps[start.get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const auto& e : n->next) {
      if (!e) continue;
      auto it = deps.find(e.get());
      if (it == deps.end()) {
        deps[e.get()] = 1;
        stack.push_back(e.get());
      } else {
        ++it->second;
      }
    }
  }

  // 2. run nodes whose inputs have all arrived; among ready nodes the most recent first.
  struct Later {
    bool operator()(Node* a, Node* b) const { return a->sequence_nr < b->sequence_nr; }
  };
  std::priority_queue<Node*, std::vector<Node*>, Later> ready;
  std::unordered_map<Node*, Tensor> buffers;
  buffers[start.get()] = grad;
  ready.push(start.get());
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    Tensor g;
    if (auto it = buffers.find(n); it != buffers.end()) {
      g = std::move(it->second);
      buffers.erase(it);
    }
    std::vector<Tensor> grads;
    if (g.defined()) {  // a node no gradient reached still releases its inputs' dependency counts
      if (n->released)
        throw std::runtime_error(std::string("backward: the graph through '") + n->name() +
                                 "' was freed by an earlier backward(); pass retain_graph=true to backward twice");
      grads = n->backward(g);
      if (grads.size() != n->next.size() && !n->next.empty())
        throw std::logic_error(std::string("backward: node '") + n->name() + "' returned " +
                               std::to_string(grads.size()) + " gradients for " + std::to_string(n->next.size()) +
                               " inputs");
      if (!retain_graph && dynamic_cast<AccumulateGrad*>(n) == nullptr) {
        n->release_saved();
        n->released = true;
      }
    }
    for (size_t i = 0; i < n->next.size(); ++i) {
      Node* e = n->next[i].get();
      if (!e) continue;
      if (!grads.empty() && grads[i].defined()) {
        auto it = buffers.find(e);
        if (it == buffers.end())
          buffers.emplace(e, grads[i]);
        else
          it->second = tensor::add(it->second, grads[i]);
      }
      if (--deps[e] == 0) ready.push(e);
    }
  }
}

}  // namespace autograd
