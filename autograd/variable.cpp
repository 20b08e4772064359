// variable.cpp: Variable's construction, leaf edges and recording of op outputs.
#include "autograd/variable.h"

#include "autograd/engine.h"
#include "autograd/grad_mode.h"

namespace autograd {

Variable::Variable(Tensor data, bool requires_grad) : impl_(std::make_shared<VariableImpl>()) {
  impl_->data = std::move(data);
  set_requires_grad(requires_grad);
}

Variable::Variable(Tensor data, std::shared_ptr<Node> grad_fn) : impl_(std::make_shared<VariableImpl>()) {
  impl_->data = std::move(data);
  impl_->requires_grad = grad_fn != nullptr;
  impl_->grad_fn = std::move(grad_fn);
}

void Variable::set_data(const Tensor& t) const {
  if (impl_->data.defined() && t.shape() != impl_->data.shape())
    throw std::invalid_argument("set_data: new data of shape " + tensor::shape_str(t.shape()) +
                                " for a variable of shape " + tensor::shape_str(impl_->data.shape()));
  impl_->data = t;
}

const Variable& Variable::set_requires_grad(bool on) const {
  if (!impl_) throw std::invalid_argument("set_requires_grad: variable is undefined");
  if (impl_->grad_fn)
    throw std::invalid_argument("set_requires_grad: only leaf variables can change requires_grad; use detach()");
  if (on && !tensor::is_floating(impl_->data.dtype()))
    throw std::invalid_argument(std::string("set_requires_grad: only float tensors can require grad, got ") +
                                tensor::dtype_name(impl_->data.dtype()));
  impl_->requires_grad = on;
  return *this;
}

std::shared_ptr<Node> Variable::gradient_edge() const {
  if (!requires_grad()) return nullptr;
  if (impl_->grad_fn) return impl_->grad_fn;
  std::shared_ptr<Node> acc = impl_->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(impl_);
    impl_->grad_accumulator = acc;
  }
  return acc;
}

void Variable::backward(const Tensor& grad, bool retain_graph) const { run_backward(*this, grad, retain_graph); }

bool needs_grad(std::initializer_list<Variable> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const auto& v : inputs)
    if (v.requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Variable>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const auto& v : inputs)
    if (v.requires_grad()) return true;
  return false;
}

Variable record(Tensor out, std::shared_ptr<Node> node, const std::vector<Variable>& inputs) {
  node->next.clear();
  node->next.reserve(inputs.size());
  for (const auto& v : inputs) node->next.push_back(v.defined() ? v.gradient_edge() : nullptr);
  return Variable(std::move(out), std::move(node));
}

}  // namespace autograd
