// node.h: a node of the backward graph. Each differentiable op's forward makes one Node subclass
// that holds exactly what its backward needs (explicit members, nothing captured wholesale) and
// an edge per input: the node that produced that input, an AccumulateGrad for a leaf, or null for
// an input that needs no gradient. Every node has one output.
#pragma once
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace autograd {

using tensor::Tensor;
struct VariableImpl;

struct Node {
  Node();
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The op's name, as registered with PM_DIFFERENTIABLE_OP ("mul", "matmul", ...).
  virtual const char* name() const = 0;
  // dL/d(inputs) from dL/d(output): one tensor per edge, undefined where there is no gradient.
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;
  // Drops saved tensors after a backward pass that did not retain the graph.
  virtual void release_saved() {}

  std::vector<std::shared_ptr<Node>> next;  // one per input
  bool released = false;
  uint64_t sequence_nr;  // creation order, later nodes run first among ready ones
};

// The sink for a leaf Variable: adds incoming gradients into the leaf's .grad.
struct AccumulateGrad final : Node {
  explicit AccumulateGrad(std::shared_ptr<VariableImpl> v) : var(std::move(v)) {}
  const char* name() const override { return "accumulate_grad"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override;
  std::shared_ptr<VariableImpl> var;
};

// The names of every differentiable op, filled by PM_DIFFERENTIABLE_OP at static-initialisation
// time. The test suite checks each has gradcheck cases.
std::set<std::string>& differentiable_ops();
struct DifferentiableOpRegistrar {
  explicit DifferentiableOpRegistrar(const char* name) { differentiable_ops().insert(name); }
};
#define PM_CONCAT_INNER(a, b) a##b
#define PM_CONCAT(a, b) PM_CONCAT_INNER(a, b)
// Registers an op name; put it at namespace scope in the .cpp that defines the op.
#define PM_DIFFERENTIABLE_OP(op_name) \
  static ::autograd::DifferentiableOpRegistrar PM_CONCAT(pm_diff_op_, __COUNTER__)(op_name)

}  // namespace autograd
