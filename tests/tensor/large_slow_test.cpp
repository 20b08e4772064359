// large_slow_test.cpp (label slow): the engine at sizes the fast suites avoid: the fallback GEMM
// against OpenBLAS at the benchmark shape, and a backward pass through a million-node chain.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "common/test_util.h"
#include "tensor/cpu/gemm.h"

namespace {
using tensor::DType;
using tensor::Tensor;

TEST(Slow, FallbackGemmAgreesWithBlasAtBenchmarkShape) {
  if (!tensor::cpu::blas_available()) GTEST_SKIP() << "built without CBLAS: nothing to compare with";
  tensor::Generator g(17);
  Tensor a = tensor::randn({2048, 3072}, DType::Float32, &g);
  Tensor b = tensor::randn({3072, 768}, DType::Float32, &g);
  Tensor with_blas = tensor::matmul(a, b.transpose(0, 1).contiguous().transpose(0, 1));
  tensor::cpu::set_blas_enabled(false);
  Tensor fallback = tensor::matmul(a, b.transpose(0, 1).contiguous().transpose(0, 1));
  tensor::cpu::set_blas_enabled(true);
  // sums of 3072 products of unit normals: |C| ~ 55; float32 rounding differs in order only
  EXPECT_TRUE(pm_test::tensors_close(fallback, with_blas, 1e-4, 2e-3));
}

TEST(Slow, MillionNodeChainBackward) {
  autograd::Variable x(tensor::ones({4}, DType::Float64), true);
  autograd::Variable y = x;
  for (int i = 0; i < 1000000; ++i) y = y + 1e-6;
  autograd::sum(y).backward();
  EXPECT_TRUE(pm_test::tensors_close(x.grad(), tensor::ones({4}, DType::Float64)));
}

}  // namespace
