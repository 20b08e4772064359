// gradcheck_test.cpp (mamba): the op-registry checks of tests/common/gradcheck_suite.h for the ops
// that live in mamba/: each has gradcheck cases at two or more shapes, and every case registered in
// this program (the mamba cases) passes gradcheck with contiguous and non-contiguous inputs.
#include "common/gradcheck_suite.h"
#include "mamba/ops/op_registry.h"

namespace {

TEST(MambaOpRegistry, EveryMambaOpHasCasesAtTwoShapes) {
  const std::set<std::string>& ops = mamba::differentiable_ops();
  EXPECT_TRUE(ops.count("selective_scan"));
  EXPECT_TRUE(ops.count("causal_conv1d"));
  for (const auto& op : ops) EXPECT_TRUE(autograd::differentiable_ops().count(op)) << op;
  pm_test::expect_ops_have_cases(ops);
}

INSTANTIATE_TEST_SUITE_P(MambaOps, GradcheckCase, ::testing::ValuesIn(pm_test::all_case_indices()),
                         pm_test::case_name);

}  // namespace
