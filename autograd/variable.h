// variable.h: Variable, a tensor that can take part in reverse-mode differentiation: its data,
// its accumulated gradient, whether it requires one, and the node that produced it (none for a
// leaf). Copies share one implementation, so a parameter held by a module and by an optimizer is
// the same Variable.
#pragma once
#include <memory>
#include <string>

#include "autograd/node.h"
#include "tensor/tensor.h"

namespace autograd {

struct VariableImpl {
  Tensor data;
  Tensor grad;  // undefined until a backward pass reaches this leaf
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;                // null for leaves
  std::weak_ptr<Node> grad_accumulator;         // leaves: the AccumulateGrad shared by all uses
};

class Variable {
 public:
  Variable() = default;  // undefined
  explicit Variable(Tensor data, bool requires_grad = false);
  Variable(Tensor data, std::shared_ptr<Node> grad_fn);  // an op's output

  bool defined() const { return impl_ && impl_->data.defined(); }
  const Tensor& data() const { return impl_->data; }
  // Replaces the values (same shape) without touching the graph; for optimizers and loaders.
  void set_data(const Tensor& t) const;
  const Tensor& grad() const { return impl_->grad; }
  void set_grad(const Tensor& g) const { impl_->grad = g; }
  void zero_grad() const { impl_->grad = Tensor(); }
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  // Leaves only: marks this variable as trainable (or frozen).
  const Variable& set_requires_grad(bool on) const;
  bool is_leaf() const { return !impl_->grad_fn; }
  const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }
  // The edge an op's node should hold for this input (null when it needs no gradient).
  std::shared_ptr<Node> gradient_edge() const;
  // The same data, cut from the graph.
  Variable detach() const { return Variable(impl_->data); }
  // Back-propagates from this variable. `grad` defaults to 1 for a one-element variable.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

  const tensor::Shape& shape() const { return impl_->data.shape(); }
  int64_t dim() const { return impl_->data.dim(); }
  int64_t size(int64_t d) const { return impl_->data.size(d); }
  int64_t numel() const { return impl_->data.numel(); }
  tensor::DType dtype() const { return impl_->data.dtype(); }
  tensor::Device device() const { return impl_->data.device(); }
  template <typename T> T item() const { return impl_->data.item<T>(); }
  bool same(const Variable& o) const { return impl_ == o.impl_; }
  const std::shared_ptr<VariableImpl>& impl() const { return impl_; }

 private:
  std::shared_ptr<VariableImpl> impl_;
};

// True when grad mode is on and any input requires a gradient: only then does an op record a node.
bool needs_grad(std::initializer_list<Variable> inputs);
bool needs_grad(const std::vector<Variable>& inputs);
// Wires node->next to the inputs and returns the output Variable holding `out` and the node.
Variable record(Tensor out, std::shared_ptr<Node> node, const std::vector<Variable>& inputs);

}  // namespace autograd
