// gpu_test_util.h: what the CUDA test files share: the skip when no GPU answers (so CI without a
// GPU passes and says why), and CPU-vs-CUDA comparison helpers.
#pragma once
#include <gtest/gtest.h>

#include "common/test_util.h"
#include "tensor/cuda/runtime.h"
#include "tensor/ops.h"

// First statement of every test that needs a GPU.
#define PM_REQUIRE_GPU()                                                                                   \
  do {                                                                                                     \
    if (!tensor::cuda::available())                                                                        \
      GTEST_SKIP() << (tensor::cuda::built_with_cuda() ? "no CUDA GPU available on this machine"           \
                                                       : "this build has no CUDA backend (built without CUDA)"); \
  } while (0)

namespace pm_gpu_test {

inline tensor::Tensor cuda(const tensor::Tensor& t) { return t.to(tensor::Device::cuda()); }

// a_cuda must live on the GPU and match b_cpu within |a - b| <= atol + rtol |b| (NaN must match NaN).
inline ::testing::AssertionResult matches_cpu(const tensor::Tensor& a_cuda, const tensor::Tensor& b_cpu, double rtol,
                                              double atol) {
  if (!a_cuda.defined() || !b_cpu.defined())
    return ::testing::AssertionFailure() << "undefined tensor: cuda " << a_cuda.defined() << ", cpu " << b_cpu.defined();
  if (!a_cuda.device().is_cuda()) return ::testing::AssertionFailure() << "result is on " << a_cuda.device().str() << ", not the GPU";
  if (a_cuda.dtype() != b_cpu.dtype())
    return ::testing::AssertionFailure() << "dtypes differ: " << tensor::dtype_name(a_cuda.dtype()) << " vs "
                                         << tensor::dtype_name(b_cpu.dtype());
  if (a_cuda.shape() != b_cpu.shape())
    return ::testing::AssertionFailure() << "shapes differ: " << tensor::shape_str(a_cuda.shape()) << " vs "
                                         << tensor::shape_str(b_cpu.shape());
  const std::vector<double> va = a_cuda.to_vector(), vb = b_cpu.to_vector();
  for (size_t i = 0; i < va.size(); ++i) {
    const bool both_nan = std::isnan(va[i]) && std::isnan(vb[i]);
    const bool same_inf = std::isinf(va[i]) && va[i] == vb[i];
    if (both_nan || same_inf) continue;
    if (!(std::fabs(va[i] - vb[i]) <= atol + rtol * std::fabs(vb[i])))
      return ::testing::AssertionFailure() << "element " << i << " of " << tensor::shape_str(b_cpu.shape())
                                           << ": cuda " << va[i] << " vs cpu " << vb[i];
  }
  return ::testing::AssertionSuccess();
}

// Bitwise equality of the values (as doubles, which hold every element exactly).
inline ::testing::AssertionResult equals_cpu(const tensor::Tensor& a_cuda, const tensor::Tensor& b_cpu) {
  return matches_cpu(a_cuda, b_cpu, 0.0, 0.0);
}

}  // namespace pm_gpu_test
