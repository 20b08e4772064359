// gradcheck_test.cpp: runs finite-difference gradcheck on every registered op case, with
// contiguous and non-contiguous inputs, and enforces that every differentiable op has cases
// (the checks themselves live in tests/common/gradcheck_suite.h, shared with test_mamba).
#include "common/gradcheck_suite.h"

namespace {

TEST(OpRegistry, EveryDifferentiableOpHasCasesAtTwoShapes) {
  pm_test::expect_ops_have_cases(autograd::differentiable_ops());
}

INSTANTIATE_TEST_SUITE_P(AllOps, GradcheckCase, ::testing::ValuesIn(pm_test::all_case_indices()), pm_test::case_name);

}  // namespace
