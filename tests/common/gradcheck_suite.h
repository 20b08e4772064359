// gradcheck_suite.h: the op-registry checks shared by the suites that register op cases (test_autograd
// for autograd's ops, test_mamba for mamba's): a registry check over a given set of op names, and
// the parameterised test that runs finite-difference gradcheck on every registered case, with
// contiguous and non-contiguous inputs, after checking that the case's graph holds its op.
// Include it from exactly one file per test program, then instantiate:
//   TEST(OpRegistry, ...) { pm_test::expect_ops_have_cases(ops); }
//   INSTANTIATE_TEST_SUITE_P(AllOps, GradcheckCase, ::testing::ValuesIn(pm_test::all_case_indices()),
//                            pm_test::case_name);
#pragma once
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/op_cases.h"

namespace pm_test {

// All node names in the graph below v.
inline std::set<std::string> graph_names(const autograd::Variable& v) {
  std::set<std::string> names;
  std::vector<autograd::Node*> stack;
  std::set<autograd::Node*> seen;
  if (v.grad_fn()) stack.push_back(v.grad_fn().get());
  while (!stack.empty()) {
    autograd::Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    names.insert(n->name());
    for (const auto& e : n->next)
      if (e) stack.push_back(e.get());
  }
  return names;
}

inline std::vector<tensor::Tensor> case_inputs(size_t index) {
  tensor::Generator g(1000 + index);
  return autograd::op_cases()[index].make_inputs(g);
}

// Every op in `ops` has cases at two or more shapes, and every registered case names an op that is
// registered with PM_DIFFERENTIABLE_OP.
inline void expect_ops_have_cases(const std::set<std::string>& ops) {
  std::map<std::string, int> count;
  for (const auto& c : autograd::op_cases()) ++count[c.op];
  ASSERT_FALSE(ops.empty());
  for (const auto& op : ops)
    EXPECT_GE(count[op], 2) << "differentiable op '" << op << "' needs gradcheck cases at two or more shapes";
  for (const auto& [op, n] : count)
    EXPECT_TRUE(autograd::differentiable_ops().count(op)) << "case names op '" << op << "', which is not registered";
}

inline std::vector<size_t> all_case_indices() {
  std::vector<size_t> idx(autograd::op_cases().size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  return idx;
}

inline std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string s = autograd::op_cases()[info.param].op + "_" + std::to_string(info.param);
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

}  // namespace pm_test

class GradcheckCase : public ::testing::TestWithParam<size_t> {};

TEST_P(GradcheckCase, MatchesFiniteDifferences) {
  using autograd::Variable;
  const autograd::OpCase& c = autograd::op_cases()[GetParam()];
  SCOPED_TRACE(c.op + ": " + c.label);
  std::vector<tensor::Tensor> inputs = pm_test::case_inputs(GetParam());

  // the case must exercise its own op
  {
    std::vector<Variable> vars;
    for (const auto& t : inputs) vars.emplace_back(t, tensor::is_floating(t.dtype()));
    std::set<std::string> names = pm_test::graph_names(c.fn(vars));
    EXPECT_TRUE(names.count(c.op)) << "the case's graph has no '" << c.op << "' node";
  }

  auto r = autograd::gradcheck(c.fn, inputs, c.options, c.wrt);
  EXPECT_TRUE(r.ok) << "contiguous inputs: " << r.message;

  if (c.noncontiguous) {
    std::vector<tensor::Tensor> strided;
    for (const auto& t : inputs) strided.push_back(autograd::noncontiguous_copy(t));
    for (const auto& t : strided) ASSERT_TRUE(t.numel() <= 1 || !t.is_contiguous());
    auto r2 = autograd::gradcheck(c.fn, strided, c.options, c.wrt);
    EXPECT_TRUE(r2.ok) << "non-contiguous inputs: " << r2.message;
  }
}
