// op_cases.h: the registry of op test cases. Each case names a differentiable op, builds its inputs
// and applies the op. The test suite runs gradcheck on every case (contiguous and non-contiguous
// inputs), checks that every op registered with PM_DIFFERENTIABLE_OP has cases at two or more
// shapes, and the CUDA parity suite runs the same cases on both devices.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "tensor/generator.h"

namespace autograd {

using InputMaker = std::function<std::vector<Tensor>(tensor::Generator&)>;

struct OpCase {
  std::string op;     // the differentiable op under test, as registered
  std::string label;  // what this case varies ("broadcast [3,1] x [4]")
  // Float inputs must be float64 here; integer inputs (indices, masks) keep their dtype.
  InputMaker make_inputs;
  OpFn fn;
  std::vector<bool> wrt = {};  // which float inputs to check (empty: all)
  GradcheckOptions options = {};
  bool noncontiguous = true;  // also run with every input laid out non-contiguously
};

std::vector<OpCase>& op_cases();
struct OpCaseRegistrar {
  explicit OpCaseRegistrar(OpCase c) { op_cases().push_back(std::move(c)); }
};
// PM_OP_CASE({...}) at namespace scope registers a case.
#define PM_OP_CASE(...) static ::autograd::OpCaseRegistrar PM_CONCAT(pm_op_case_, __COUNTER__)(::autograd::OpCase __VA_ARGS__)

// Input makers for cases: float64 standard normals, or uniforms in [lo, hi) (for ops defined on
// positive numbers), one tensor per shape.
InputMaker normal_inputs(std::vector<tensor::Shape> shapes);
InputMaker uniform_inputs(std::vector<tensor::Shape> shapes, double lo, double hi);

// A copy of `t` with the same values laid out non-contiguously (every other element of a wider
// buffer along the last dim).
Tensor noncontiguous_copy(const Tensor& t);

}  // namespace autograd
