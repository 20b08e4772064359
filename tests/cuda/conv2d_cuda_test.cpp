// conv2d_cuda_test.cpp: conv2d forward and backward on the GPU (im2col + cuBLAS, col2im gather,
// dbias reduction) against the CPU: strides, padding, kernels larger than the input, patch
// embeddings, non-contiguous inputs and gradients, need_dx / need_dw, float32 and float64,
// bit-identical repeated runs, and the errors.
#include <gtest/gtest.h>

#include "cuda/gpu_test_util.h"

namespace {
using pm_gpu_test::cuda;
using pm_gpu_test::matches_cpu;
using tensor::Conv2dParams;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

Conv2dParams conv(int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  Conv2dParams p;
  p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw;
  return p;
}

Tensor normal(const Shape& s, DType dt, uint64_t seed) {
  tensor::Generator g(seed);
  return tensor::randn(s, dt, &g);
}

// Tolerance (relative and absolute) for sums of n products.
double tol(DType dt, int64_t n) { return (dt == DType::Float32 ? 5e-7 : 1e-13) * static_cast<double>(n + 64); }

// The same values as t on the GPU, stored with H and W swapped (a non-contiguous view).
Tensor cuda_hw_swapped(const Tensor& t) { return cuda(t.transpose(2, 3).contiguous()).transpose(2, 3); }

struct ConvCase {
  Shape x, w;
  bool bias;
  Conv2dParams p;
};

void check_case(const ConvCase& c, DType dt, uint64_t seed, bool strided) {
  SCOPED_TRACE("x " + tensor::shape_str(c.x) + " w " + tensor::shape_str(c.w) + (c.bias ? " bias " : " ") +
               tensor::dtype_name(dt) + (strided ? " strided" : ""));
  const Tensor x = normal(c.x, dt, seed), w = normal(c.w, dt, seed + 1);
  const Tensor b = c.bias ? normal({c.w[0]}, dt, seed + 2) : Tensor();
  const Tensor y = tensor::conv2d(x, w, b, c.p);
  const Tensor gx = strided ? cuda_hw_swapped(x) : cuda(x);
  const Tensor y_gpu = tensor::conv2d(gx, cuda(w), c.bias ? cuda(b) : Tensor(), c.p);
  // the sums have K (forward), O*kh*kw (dx) and B*Ho*Wo (dw, dbias) terms
  const int64_t K = c.w[1] * c.w[2] * c.w[3];
  EXPECT_TRUE(matches_cpu(y_gpu, y, tol(dt, K), tol(dt, K)));

  const Tensor g = normal(y.shape(), dt, seed + 3);
  const Tensor gg = strided ? cuda_hw_swapped(g) : cuda(g);
  const tensor::Conv2dGrads want = tensor::conv2d_backward(g, x, w, c.bias, c.p);
  const tensor::Conv2dGrads got = tensor::conv2d_backward(gg, gx, cuda(w), c.bias, c.p);
  const double tdx = tol(dt, c.w[0] * c.w[2] * c.w[3]), tdw = tol(dt, c.x[0] * y.size(2) * y.size(3));
  EXPECT_TRUE(matches_cpu(got.dx, want.dx, tdx, tdx));
  EXPECT_TRUE(matches_cpu(got.dw, want.dw, tdw, tdw));
  if (c.bias) {
    EXPECT_TRUE(matches_cpu(got.dbias, want.dbias, tdw, tdw));
  } else {
    EXPECT_FALSE(got.dbias.defined());
  }
}

const std::vector<ConvCase>& cases() {
  static const std::vector<ConvCase> all = {
      {{2, 3, 9, 8}, {4, 3, 3, 3}, true, conv(1, 1, 1, 1)},
      {{2, 3, 7, 6}, {4, 3, 3, 3}, true, conv(2, 2, 1, 1)},
      {{1, 2, 5, 7}, {3, 2, 2, 3}, false, conv(1, 2, 2, 0)},
      {{2, 1, 6, 5}, {2, 1, 4, 3}, false, conv(2, 3, 0, 1)},
      {{3, 2, 4, 4}, {5, 2, 1, 1}, true, conv(1, 1, 0, 0)},         // 1x1 kernel
      {{1, 1, 3, 3}, {1, 1, 5, 5}, true, conv(1, 1, 1, 1)},         // kernel larger than the input
      {{3, 3, 32, 32}, {8, 3, 16, 16}, true, conv(16, 16, 0, 0)},   // patch embedding
      {{2, 3, 32, 32}, {8, 3, 16, 16}, false, conv(8, 8, 0, 0)},    // overlapping patches
      {{2, 3, 34, 30}, {8, 3, 16, 16}, true, conv(16, 8, 2, 1)},    // rows left over, padding
  };
  return all;
}

TEST(Conv2dCuda, MatchesCpuForwardAndBackward) {
  PM_REQUIRE_GPU();
  uint64_t seed = 1;
  for (DType dt : {DType::Float32, DType::Float64})
    for (const ConvCase& c : cases()) check_case(c, dt, seed += 10, false);
}

TEST(Conv2dCuda, NonContiguousInputAndGradient) {
  PM_REQUIRE_GPU();
  uint64_t seed = 500;
  for (DType dt : {DType::Float32, DType::Float64})
    for (const ConvCase& c : cases()) check_case(c, dt, seed += 10, true);
}

TEST(Conv2dCuda, VitPatchEmbeddingSize) {
  PM_REQUIRE_GPU();
  check_case({{8, 3, 224, 224}, {192, 3, 16, 16}, true, conv(16, 16, 0, 0)}, DType::Float32, 900, false);
}

TEST(Conv2dCuda, NeedDxAndNeedDwSelectTheProducts) {
  PM_REQUIRE_GPU();
  const Conv2dParams p = conv(2, 2, 1, 1);
  const Tensor x = normal({2, 3, 9, 9}, DType::Float64, 31), w = normal({4, 3, 3, 3}, DType::Float64, 32);
  const Tensor g = normal({2, 4, 5, 5}, DType::Float64, 33);
  const tensor::Conv2dGrads full = tensor::conv2d_backward(g, x, w, true, p);
  const tensor::Conv2dGrads only_dw = tensor::conv2d_backward(cuda(g), cuda(x), cuda(w), true, p, false, true);
  EXPECT_FALSE(only_dw.dx.defined());
  EXPECT_TRUE(matches_cpu(only_dw.dw, full.dw, 1e-12, 1e-12));
  EXPECT_TRUE(matches_cpu(only_dw.dbias, full.dbias, 1e-12, 1e-12));
  const tensor::Conv2dGrads only_dx = tensor::conv2d_backward(cuda(g), cuda(x), cuda(w), false, p, true, false);
  EXPECT_FALSE(only_dx.dw.defined());
  EXPECT_FALSE(only_dx.dbias.defined());
  EXPECT_TRUE(matches_cpu(only_dx.dx, full.dx, 1e-12, 1e-12));
  const tensor::Conv2dGrads none = tensor::conv2d_backward(cuda(g), cuda(x), cuda(w), true, p, false, false);
  EXPECT_FALSE(none.dx.defined());
  EXPECT_FALSE(none.dw.defined());
  EXPECT_TRUE(matches_cpu(none.dbias, full.dbias, 1e-12, 1e-12));
}

TEST(Conv2dCuda, RepeatedRunsAreBitIdentical) {
  PM_REQUIRE_GPU();
  const Conv2dParams p = conv(1, 1, 1, 1);
  const Tensor x = cuda(normal({4, 8, 20, 20}, DType::Float32, 41)), w = cuda(normal({16, 8, 3, 3}, DType::Float32, 42));
  const Tensor g = cuda(normal({4, 16, 20, 20}, DType::Float32, 43));
  const tensor::Conv2dGrads a = tensor::conv2d_backward(g, x, w, true, p);
  const tensor::Conv2dGrads b = tensor::conv2d_backward(g, x, w, true, p);
  EXPECT_TRUE(pm_gpu_test::equals_cpu(b.dx, a.dx.to(tensor::Device::cpu())));
  EXPECT_TRUE(pm_gpu_test::equals_cpu(b.dw, a.dw.to(tensor::Device::cpu())));
  EXPECT_TRUE(pm_gpu_test::equals_cpu(b.dbias, a.dbias.to(tensor::Device::cpu())));
}

TEST(Conv2dCuda, Errors) {
  PM_REQUIRE_GPU();
  const Tensor x = cuda(tensor::zeros({1, 3, 8, 8})), w = cuda(tensor::zeros({4, 2, 3, 3}));
  const Conv2dParams p = conv(1, 1, 0, 0);
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d(x, w, Tensor(), p); },
                                   {"conv2d: input [1, 3, 8, 8] has 3 channels but weight [4, 2, 3, 3] expects 2"}));
  const Tensor w3 = cuda(tensor::zeros({4, 3, 3, 3}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d(x, tensor::zeros({4, 3, 3, 3}), Tensor(), p); },
                                   {"conv2d: expected tensors on the same device"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d(x, w3, tensor::zeros({4}), p); },
                                   {"conv2d: expected tensors on the same device"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d(x, w3, cuda(tensor::zeros({5})), p); },
                                   {"conv2d: bias of shape [5] for weight [4, 3, 3, 3] (expected [4])"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d_backward(cuda(tensor::zeros({1, 4, 5, 5})), x, w3, false, p); },
                                   {"conv2d_backward: gradient of shape [1, 4, 5, 5] for an output of shape [1, 4, 6, 6]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d_backward(tensor::zeros({1, 4, 6, 6}), x, w3, false, p); },
                                   {"conv2d_backward: expected tensors on the same device"}));
}

}  // namespace
