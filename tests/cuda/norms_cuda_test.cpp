// norms_cuda_test.cpp: rms_norm and layer_norm, forward and backward, on the GPU against the CPU:
// row lengths that pick each kernel shape (warp or block per row, 16-byte or scalar accesses),
// with and without weight and bias, statistics as the CPU returns them, non-contiguous inputs,
// empty shapes, deterministic parameter gradients, and the errors.
#include <gtest/gtest.h>

#include "cuda/gpu_test_util.h"

namespace {
using pm_gpu_test::cuda;
using pm_gpu_test::matches_cpu;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

Tensor normal(const Shape& s, DType dt, uint64_t seed, double mean = 0, double std = 1) {
  tensor::Generator g(seed);
  return tensor::randn(s, dt, &g, mean, std);
}

// Tolerance for sums of n terms (the CPU sums in double, the GPU in the tensor's precision).
double tol(DType dt, int64_t n) { return (dt == DType::Float32 ? 2e-7 : 1e-14) * static_cast<double>(n + 64); }

// Row lengths: warp per row (vector and scalar accesses), block per row (vector and scalar).
const std::vector<int64_t> kDims = {1, 7, 64, 1000, 1022, 1024, 1536, 2560, 4099};

struct Opts {
  bool weight, bias;
};

void check_layer_norm(const Shape& shape, DType dt, Opts o, uint64_t seed, bool strided) {
  SCOPED_TRACE("layer_norm " + tensor::shape_str(shape) + " " + tensor::dtype_name(dt) + (o.weight ? " w" : "") +
               (o.bias ? " b" : "") + (strided ? " strided" : ""));
  const int64_t D = shape.back();
  const Tensor x = normal(shape, dt, seed, 0.5, 2.0);  // an offset mean exercises the centring
  const Tensor w = o.weight ? normal({D}, dt, seed + 1) : Tensor(), b = o.bias ? normal({D}, dt, seed + 2) : Tensor();
  const Tensor g = normal(shape, dt, seed + 3);
  const double eps = 1e-5;
  // strided: x and g on the GPU as the transposed storage of a [D, rows] tensor
  auto to_gpu = [&](const Tensor& t) {
    if (!strided || t.dim() < 2) return cuda(t);
    return cuda(t.transpose(0, -1).contiguous()).transpose(0, -1);
  };
  const tensor::NormForward want = tensor::layer_norm(x, w, b, eps);
  const tensor::NormForward got =
      tensor::layer_norm(to_gpu(x), o.weight ? cuda(w) : Tensor(), o.bias ? cuda(b) : Tensor(), eps);
  EXPECT_TRUE(matches_cpu(got.y, want.y, tol(dt, D), tol(dt, D)));
  EXPECT_TRUE(matches_cpu(got.mean, want.mean, tol(dt, D), tol(dt, D)));
  EXPECT_TRUE(matches_cpu(got.rstd, want.rstd, tol(dt, D), tol(dt, D)));

  const tensor::NormGrads gw = tensor::layer_norm_backward(g, x, w, want.mean, want.rstd, o.bias);
  const tensor::NormGrads gg = tensor::layer_norm_backward(to_gpu(g), to_gpu(x), o.weight ? cuda(w) : Tensor(),
                                                           cuda(want.mean), cuda(want.rstd), o.bias);
  const int64_t rows = x.numel() / std::max<int64_t>(D, 1);
  EXPECT_TRUE(matches_cpu(gg.dx, gw.dx, tol(dt, 4 * D), tol(dt, 4 * D)));
  EXPECT_EQ(gg.dweight.defined(), o.weight);
  EXPECT_EQ(gg.dbias.defined(), o.bias);
  if (o.weight) {
    EXPECT_TRUE(matches_cpu(gg.dweight, gw.dweight, tol(dt, rows), tol(dt, rows)));
  }
  if (o.bias) {
    EXPECT_TRUE(matches_cpu(gg.dbias, gw.dbias, tol(dt, rows), tol(dt, rows)));
  }
}

void check_rms_norm(const Shape& shape, DType dt, bool weight, uint64_t seed, bool strided) {
  SCOPED_TRACE("rms_norm " + tensor::shape_str(shape) + " " + tensor::dtype_name(dt) + (weight ? " w" : "") +
               (strided ? " strided" : ""));
  const int64_t D = shape.back();
  const Tensor x = normal(shape, dt, seed), w = weight ? normal({D}, dt, seed + 1) : Tensor();
  const Tensor g = normal(shape, dt, seed + 3);
  const double eps = 1e-6;
  auto to_gpu = [&](const Tensor& t) {
    if (!strided || t.dim() < 2) return cuda(t);
    return cuda(t.transpose(0, -1).contiguous()).transpose(0, -1);
  };
  const tensor::NormForward want = tensor::rms_norm(x, w, eps);
  const tensor::NormForward got = tensor::rms_norm(to_gpu(x), weight ? cuda(w) : Tensor(), eps);
  EXPECT_FALSE(got.mean.defined());
  EXPECT_TRUE(matches_cpu(got.y, want.y, tol(dt, D), tol(dt, D)));
  EXPECT_TRUE(matches_cpu(got.rstd, want.rstd, tol(dt, D), tol(dt, D)));

  const tensor::NormGrads gw = tensor::rms_norm_backward(g, x, w, want.rstd);
  const tensor::NormGrads gg = tensor::rms_norm_backward(to_gpu(g), to_gpu(x), weight ? cuda(w) : Tensor(), cuda(want.rstd));
  const int64_t rows = x.numel() / std::max<int64_t>(D, 1);
  EXPECT_TRUE(matches_cpu(gg.dx, gw.dx, tol(dt, 4 * D), tol(dt, 4 * D)));
  EXPECT_EQ(gg.dweight.defined(), weight);
  EXPECT_FALSE(gg.dbias.defined());
  if (weight) {
    EXPECT_TRUE(matches_cpu(gg.dweight, gw.dweight, tol(dt, rows), tol(dt, rows)));
  }
}

TEST(NormsCuda, LayerNormMatchesCpuAtEveryRowShape) {
  PM_REQUIRE_GPU();
  uint64_t seed = 100;
  for (DType dt : {DType::Float32, DType::Float64})
    for (int64_t D : kDims) {
      check_layer_norm({37, D}, dt, {true, true}, seed += 10, false);
      check_layer_norm({3, 5, D}, dt, {false, false}, seed += 10, false);
      check_layer_norm({19, D}, dt, {true, false}, seed += 10, false);
      check_layer_norm({19, D}, dt, {false, true}, seed += 10, false);
    }
}

TEST(NormsCuda, RmsNormMatchesCpuAtEveryRowShape) {
  PM_REQUIRE_GPU();
  uint64_t seed = 200;
  for (DType dt : {DType::Float32, DType::Float64})
    for (int64_t D : kDims) {
      check_rms_norm({37, D}, dt, true, seed += 10, false);
      check_rms_norm({2, 3, D}, dt, false, seed += 10, false);
    }
}

TEST(NormsCuda, NonContiguousInputs) {
  PM_REQUIRE_GPU();
  uint64_t seed = 300;
  for (DType dt : {DType::Float32, DType::Float64})
    for (int64_t D : {int64_t(7), int64_t(64), int64_t(1536)}) {
      check_layer_norm({21, D}, dt, {true, true}, seed += 10, true);
      check_rms_norm({21, D}, dt, true, seed += 10, true);
    }
}

TEST(NormsCuda, ManyRowsFillTheGridAndLoop) {
  PM_REQUIRE_GPU();
  check_layer_norm({8192, 768}, DType::Float32, {true, true}, 400, false);
  check_rms_norm({4096, 2560}, DType::Float32, true, 410, false);
  check_rms_norm({70000, 16}, DType::Float32, true, 420, false);  // warp rows looping over the grid
}

// A parameter gradient: the CPU's, or, where the CPU leaves it undefined because the weight has no
// elements (D = 0: its data pointer is null), an empty tensor.
::testing::AssertionResult param_grad_matches(const Tensor& got, const Tensor& want) {
  if (want.defined()) return pm_gpu_test::equals_cpu(got, want);
  if (!got.defined()) return ::testing::AssertionSuccess();
  if (got.numel() != 0) return ::testing::AssertionFailure() << "expected an empty gradient, got " << got.str();
  return ::testing::AssertionSuccess();
}

TEST(NormsCuda, EmptyShapes) {
  PM_REQUIRE_GPU();
  for (const Shape& s : {Shape{0, 8}, Shape{4, 0}}) {
    SCOPED_TRACE(tensor::shape_str(s));
    const Tensor x = tensor::zeros(s), w = tensor::ones({s[1]}), b = tensor::zeros({s[1]}), g = tensor::zeros(s);
    const tensor::NormForward want = tensor::layer_norm(x, w, b, 1e-5);
    const tensor::NormForward got = tensor::layer_norm(cuda(x), cuda(w), cuda(b), 1e-5);
    EXPECT_TRUE(matches_cpu(got.y, want.y, 1e-6, 1e-6));
    EXPECT_TRUE(matches_cpu(got.rstd, want.rstd, 1e-6, 1e-6));
    const tensor::NormGrads gw = tensor::layer_norm_backward(g, x, w, want.mean, want.rstd, true);
    const tensor::NormGrads gg = tensor::layer_norm_backward(cuda(g), cuda(x), cuda(w), cuda(want.mean), cuda(want.rstd), true);
    EXPECT_TRUE(matches_cpu(gg.dx, gw.dx, 0, 0));
    EXPECT_TRUE(param_grad_matches(gg.dweight, gw.dweight));
    EXPECT_TRUE(param_grad_matches(gg.dbias, gw.dbias));
    const tensor::NormForward rwant = tensor::rms_norm(x, w, 1e-5);
    const tensor::NormForward rgot = tensor::rms_norm(cuda(x), cuda(w), 1e-5);
    EXPECT_TRUE(matches_cpu(rgot.rstd, rwant.rstd, 1e-6, 1e-6));
    const tensor::NormGrads rg = tensor::rms_norm_backward(cuda(g), cuda(x), cuda(w), cuda(rwant.rstd));
    EXPECT_TRUE(param_grad_matches(rg.dweight, tensor::rms_norm_backward(g, x, w, rwant.rstd).dweight));
  }
}

TEST(NormsCuda, ParameterGradientsAreBitIdenticalAcrossRuns) {
  PM_REQUIRE_GPU();
  const Tensor x = cuda(normal({3000, 512}, DType::Float32, 500)), g = cuda(normal({3000, 512}, DType::Float32, 501));
  const Tensor w = cuda(normal({512}, DType::Float32, 502));
  const tensor::NormForward f = tensor::layer_norm(x, w, Tensor(), 1e-5);
  const tensor::NormGrads a = tensor::layer_norm_backward(g, x, w, f.mean, f.rstd, true);
  const tensor::NormGrads b = tensor::layer_norm_backward(g, x, w, f.mean, f.rstd, true);
  EXPECT_TRUE(pm_gpu_test::equals_cpu(b.dweight, a.dweight.to(tensor::Device::cpu())));
  EXPECT_TRUE(pm_gpu_test::equals_cpu(b.dbias, a.dbias.to(tensor::Device::cpu())));
  EXPECT_TRUE(pm_gpu_test::equals_cpu(b.dx, a.dx.to(tensor::Device::cpu())));
}

TEST(NormsCuda, Errors) {
  PM_REQUIRE_GPU();
  const Tensor x = cuda(tensor::zeros({2, 8}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::rms_norm(x, cuda(tensor::ones({7})), 1e-5); },
                                   {"rms_norm: weight of shape [7] does not match the last dim of input [2, 8]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::rms_norm(x, tensor::ones({8}), 1e-5); },
                                   {"rms_norm: expected tensors on the same device"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::layer_norm(x, Tensor(), cuda(tensor::ones({8}, DType::Float64)), 1e-5); },
                                   {"layer_norm: expected the same dtype"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::layer_norm(cuda(tensor::scalar_tensor(1.0)), Tensor(), Tensor(), 1e-5); },
                                   {"layer_norm: input must have at least 1 dim, got a 0-d tensor"}));
  const tensor::NormForward f = tensor::layer_norm(x, Tensor(), Tensor(), 1e-5);
  EXPECT_TRUE(pm_test::throws_with(
      [&] { tensor::layer_norm_backward(cuda(tensor::zeros({2, 7})), x, Tensor(), f.mean, f.rstd, false); },
      {"layer_norm_backward: gradient of shape [2, 7] for an input of shape [2, 8]"}));
  EXPECT_TRUE(pm_test::throws_with(
      [&] { tensor::layer_norm_backward(x, x, Tensor(), f.mean.to(tensor::Device::cpu()), f.rstd, false); },
      {"layer_norm_backward: expected tensors on the same device"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::rms_norm_backward(x, x, Tensor(), cuda(tensor::ones({3}))); },
                                   {"rms_norm_backward: rstd of shape [3] for an input of shape [2, 8] (expected [2])"}));
}

}  // namespace
