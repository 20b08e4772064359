// mlp_train_test.cpp: end to end through the engine: a two-layer MLP trained by plain SGD on a
// fixed synthetic regression problem must reach a loss threshold, in float32 and float64.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "common/test_util.h"

namespace {
using autograd::Variable;
using tensor::DType;
using tensor::Tensor;

// y = sin(2 x0) + 0.5 x1^2 on 256 points of [-1, 1]^2; a 2-32-1 tanh MLP, full-batch SGD.
double train_mlp(DType dt, int steps) {
  tensor::Generator g(2024);
  Tensor x = tensor::rand({256, 2}, dt, &g, -1, 1);
  auto xv = x.to_vector();
  std::vector<double> yv(256);
  for (int i = 0; i < 256; ++i) yv[i] = std::sin(2 * xv[2 * i]) + 0.5 * xv[2 * i + 1] * xv[2 * i + 1];
  Tensor y = tensor::from_vector(yv, {256, 1}).to(dt);

  Variable w1(tensor::randn({2, 32}, dt, &g, 0, 1.0 / std::sqrt(2.0)), true);
  Variable b1(tensor::zeros({32}, dt), true);
  Variable w2(tensor::randn({32, 1}, dt, &g, 0, 1.0 / std::sqrt(32.0)), true);
  Variable b2(tensor::zeros({1}, dt), true);
  std::vector<Variable> params{w1, b1, w2, b2};
  Variable xin(x), target(y);
  double loss_value = 0;
  for (int step = 0; step < steps; ++step) {
    Variable h = autograd::tanh(autograd::matmul(xin, w1) + b1);
    Variable pred = autograd::matmul(h, w2) + b2;
    Variable diff = pred - target;
    Variable loss = autograd::mean(diff * diff);
    loss_value = loss.item<double>();
    for (auto& p : params) p.zero_grad();
    loss.backward();
    autograd::NoGradGuard ng;
    for (auto& p : params) tensor::add_(p.data(), p.grad(), -0.2);  // SGD, lr 0.2
  }
  return loss_value;
}

TEST(MlpTraining, ReachesLossThresholdInFloat64) {
  double first = train_mlp(DType::Float64, 1);
  double last = train_mlp(DType::Float64, 1500);
  EXPECT_GT(first, 0.1);
  EXPECT_LT(last, 5e-3) << "started at " << first;
}

TEST(MlpTraining, Float32FollowsFloat64) {
  double a = train_mlp(DType::Float32, 300), b = train_mlp(DType::Float64, 300);
  EXPECT_NEAR(a, b, 1e-3 + 1e-3 * b);
}

}  // namespace
