// cross_entropy_cuda_test.cpp: the fused softmax cross-entropy on the GPU against the CPU: class
// counts that pick each kernel shape (warp or block per row, 16-byte or scalar accesses), ignored
// rows, label smoothing, every row ignored (NaN loss, zero gradient), extreme logits, a gradient
// of another dtype, non-contiguous logits and targets, and the target errors with the CPU's
// messages.
#include <gtest/gtest.h>

#include <cmath>

#include "cuda/gpu_test_util.h"

namespace {
using pm_gpu_test::cuda;
using pm_gpu_test::matches_cpu;
using tensor::CrossEntropyOptions;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

Tensor normal(const Shape& s, DType dt, uint64_t seed, double std = 1) {
  tensor::Generator g(seed);
  return tensor::randn(s, dt, &g, 0, std);
}

// Targets in [0, C) with every `ignore_every`-th row set to opt.ignore_index (0: none ignored).
Tensor targets(int64_t N, int64_t C, uint64_t seed, int64_t ignore_every, int64_t ignore_index) {
  tensor::Generator g(seed);
  Tensor t = tensor::randint(0, C, {N}, &g);
  if (ignore_every > 0)
    for (int64_t i = 0; i < N; i += ignore_every) t.narrow(0, i, 1).fill_(static_cast<double>(ignore_index));
  return t;
}

// Relative tolerance; the gradient's absolute one is scaled by 1/N like the gradient itself.
double tol(DType dt) { return dt == DType::Float32 ? 1e-4 : 1e-11; }

void check(int64_t N, int64_t C, DType dt, const CrossEntropyOptions& o, int64_t ignore_every, uint64_t seed,
           bool strided = false, double std = 3) {
  SCOPED_TRACE("N " + std::to_string(N) + " C " + std::to_string(C) + " " + tensor::dtype_name(dt) + " smoothing " +
               std::to_string(o.label_smoothing) + " ignore every " + std::to_string(ignore_every) +
               (strided ? " strided" : ""));
  const Tensor x = normal({N, C}, dt, seed, std);
  const Tensor t = targets(N, C, seed + 1, ignore_every, o.ignore_index);
  const Tensor gx = strided ? cuda(x.transpose(0, 1).contiguous()).transpose(0, 1) : cuda(x);
  // strided targets: every other element of a [N, 2] buffer
  Tensor gt = cuda(t);
  if (strided) {
    Tensor buf = tensor::zeros({N, 2}, DType::Int64);
    buf.select(1, 0).copy_(t);
    gt = cuda(buf).select(1, 0);
  }
  const Tensor want = tensor::cross_entropy(x, t, o);
  const Tensor got = tensor::cross_entropy(gx, gt, o);
  EXPECT_TRUE(matches_cpu(got, want, tol(dt), tol(dt)));
  const Tensor g = tensor::scalar_tensor(0.7, dt);
  const Tensor dwant = tensor::cross_entropy_backward(g, x, t, o);
  const Tensor dgot = tensor::cross_entropy_backward(cuda(g), gx, gt, o);
  EXPECT_TRUE(matches_cpu(dgot, dwant, tol(dt), tol(dt) / static_cast<double>(N)));
  // the training path: the forward's row log-sum-exp handed to the backward
  Tensor lse_want, lse_got;
  tensor::cross_entropy(x, t, o, &lse_want);
  tensor::cross_entropy(gx, gt, o, &lse_got);
  EXPECT_TRUE(matches_cpu(lse_got, lse_want, tol(dt), tol(dt)));
  EXPECT_TRUE(matches_cpu(tensor::cross_entropy_backward(cuda(g), gx, gt, o, lse_got), dwant, tol(dt),
                          tol(dt) / static_cast<double>(N)));
}

TEST(CrossEntropyCuda, MatchesCpuAtEveryRowShape) {
  PM_REQUIRE_GPU();
  uint64_t seed = 1;
  for (DType dt : {DType::Float32, DType::Float64})
    for (int64_t C : {1, 2, 10, 1000, 1001, 1024, 1030, 5000, 50257, 50280}) {
      check(33, C, dt, {}, 0, seed += 10);
      check(17, C, dt, {-100, 0.1}, 4, seed += 10);
    }
}

TEST(CrossEntropyCuda, IgnoreIndexInsideTheClassRange) {
  PM_REQUIRE_GPU();
  CrossEntropyOptions o;
  o.ignore_index = 3;
  check(64, 10, DType::Float32, o, 0, 70);  // some random targets are 3 and are ignored
  o.label_smoothing = 0.25;
  check(64, 2000, DType::Float64, o, 5, 71);
}

TEST(CrossEntropyCuda, NonContiguousLogitsAndTargets) {
  PM_REQUIRE_GPU();
  uint64_t seed = 100;
  for (DType dt : {DType::Float32, DType::Float64})
    for (int64_t C : {10, 3000}) check(40, C, dt, {-100, 0.05}, 3, seed += 10, true);
}

TEST(CrossEntropyCuda, ManyRowsAndExtremeLogits) {
  PM_REQUIRE_GPU();
  check(4096, 512, DType::Float32, {-100, 0.1}, 7, 200);  // warp rows looping over the grid
  check(256, 50280, DType::Float32, {-100, 0.0}, 9, 201);
  check(64, 3000, DType::Float32, {-100, 0.1}, 0, 202, false, 40.0);  // logits up to ~200: the max shift matters
}

TEST(CrossEntropyCuda, EveryRowIgnoredGivesNanLossAndZeroGradient) {
  PM_REQUIRE_GPU();
  const Tensor x = normal({6, 9}, DType::Float32, 300);
  const Tensor t = tensor::full({6}, -100, DType::Int64);
  const Tensor loss = tensor::cross_entropy(cuda(x), cuda(t));
  EXPECT_TRUE(std::isnan(loss.to(tensor::Device::cpu()).item<double>()));
  const Tensor d = tensor::cross_entropy_backward(cuda(tensor::scalar_tensor(1.0)), cuda(x), cuda(t));
  EXPECT_TRUE(pm_gpu_test::equals_cpu(d, tensor::zeros({6, 9})));
}

TEST(CrossEntropyCuda, GradientOfAnotherDtypeAndShapeOne) {
  PM_REQUIRE_GPU();
  const Tensor x = normal({12, 30}, DType::Float32, 310);
  const Tensor t = targets(12, 30, 311, 0, -100);
  const Tensor want = tensor::cross_entropy_backward(tensor::scalar_tensor(2.5, DType::Float64), x, t);
  const Tensor got = tensor::cross_entropy_backward(cuda(tensor::full({1}, 2.5, DType::Float64)), cuda(x), cuda(t));
  EXPECT_TRUE(matches_cpu(got, want, 1e-5, 1e-7));
}

TEST(CrossEntropyCuda, RepeatedRunsAreBitIdentical) {
  PM_REQUIRE_GPU();
  const Tensor x = cuda(normal({300, 7000}, DType::Float32, 320));
  const Tensor t = cuda(targets(300, 7000, 321, 11, -100));
  const Tensor a = tensor::cross_entropy(x, t, {-100, 0.1}).to(tensor::Device::cpu());
  EXPECT_TRUE(pm_gpu_test::equals_cpu(tensor::cross_entropy(x, t, {-100, 0.1}), a));
}

TEST(CrossEntropyCuda, TargetErrorsUseTheCpuMessages) {
  PM_REQUIRE_GPU();
  const Tensor x = cuda(tensor::zeros({5, 10}));
  const Tensor bad = cuda(tensor::from_vector<int64_t>({1, 2, -100, 12, 40}, {5}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy(x, bad); },
                                   {"cross_entropy: target 12 at row 3 is out of range for 10 classes"}));
  const Tensor g = cuda(tensor::scalar_tensor(1.0));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy_backward(g, x, bad); },
                                   {"cross_entropy_backward: target 12 at row 3 is out of range for 10 classes"}));
  const Tensor negative = cuda(tensor::from_vector<int64_t>({1, -1, 2, 3, 4}, {5}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy(x, negative); },
                                   {"cross_entropy: target -1 at row 1 is out of range for 10 classes"}));
  // a strided target: the row named is the first bad one in row order
  Tensor buf = tensor::zeros({5, 2}, DType::Int64);
  buf.select(1, 0).copy_(tensor::from_vector<int64_t>({0, 10, 0, 11, 0}, {5}));
  buf.select(1, 1).fill_(99);
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy(x, cuda(buf).select(1, 0)); },
                                   {"cross_entropy: target 10 at row 1 is out of range for 10 classes"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy(x, tensor::from_vector<int64_t>({0, 1, 2, 3, 4}, {5})); },
                                   {"cross_entropy: expected tensors on the same device"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy_backward(tensor::scalar_tensor(1.0), x, cuda(tensor::zeros({5}, DType::Int64))); },
                                   {"cross_entropy_backward: expected tensors on the same device"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy(x, cuda(tensor::zeros({4}, DType::Int64))); },
                                   {"cross_entropy: target of shape [4] for logits [5, 10] (expected [5])"}));
}

}  // namespace
