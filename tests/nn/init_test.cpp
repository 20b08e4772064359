// init_test.cpp: the initialisers' formulas (fans, gains, bounds), their distributions (moments of
// large draws), seeding, erfinv, truncation, and argument errors.
#include "nn/init.h"

#include <cmath>

#include "common/test_util.h"

namespace {

using pm_test::throws_with;
using tensor::DType;
using tensor::Tensor;
namespace init = nn::init;

struct Moments {
  double mean = 0, var = 0, lo = INFINITY, hi = -INFINITY;
};
Moments moments(const Tensor& t) {
  Moments m;
  auto v = t.to_vector();
  for (double x : v) {
    m.mean += x;
    m.lo = std::min(m.lo, x);
    m.hi = std::max(m.hi, x);
  }
  m.mean /= v.size();
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= v.size();
  return m;
}

TEST(Init, FansAndGains) {
  auto f = init::fan_in_and_fan_out({8, 3, 4, 5});
  EXPECT_EQ(f.fan_in, 60);
  EXPECT_EQ(f.fan_out, 160);
  f = init::fan_in_and_fan_out({7, 2});
  EXPECT_EQ(f.fan_in, 2);
  EXPECT_EQ(f.fan_out, 7);
  EXPECT_TRUE(throws_with([] { init::fan_in_and_fan_out({5}); },
                          {"init::fan_in_and_fan_out: needs a tensor with at least 2 dims, got shape [5]"}));
  EXPECT_DOUBLE_EQ(init::calculate_gain("relu"), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain("linear"), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(2.0 / 6.0));
  EXPECT_TRUE(throws_with([] { init::calculate_gain("swish"); }, {"init::calculate_gain: unknown nonlinearity 'swish'"}));
}

TEST(Init, ConstantsZerosOnes) {
  Tensor t = tensor::empty_like(tensor::zeros({3, 2}, DType::Float64));
  init::zeros_(t);
  EXPECT_EQ(t.to_vector(), std::vector<double>(6, 0.0));
  init::ones_(t);
  EXPECT_EQ(t.to_vector(), std::vector<double>(6, 1.0));
  init::constant_(t, 2.5);
  EXPECT_EQ(t.to_vector(), std::vector<double>(6, 2.5));
}

TEST(Init, UniformAndNormalMoments) {
  tensor::Generator g(1);
  Tensor t = tensor::zeros({400, 250}, DType::Float64);
  init::uniform_(t, &g, -2, 4);
  Moments m = moments(t);
  EXPECT_NEAR(m.mean, 1.0, 0.02);
  EXPECT_NEAR(m.var, 3.0, 0.03);  // (b - a)^2 / 12
  EXPECT_GE(m.lo, -2);
  EXPECT_LT(m.hi, 4);
  init::normal_(t, &g, 0.5, 2.0);
  m = moments(t);
  EXPECT_NEAR(m.mean, 0.5, 0.02);
  EXPECT_NEAR(m.var, 4.0, 0.04);
}

TEST(Init, SeededDrawsRepeat) {
  Tensor a = tensor::zeros({10, 10}), b = tensor::zeros({10, 10});
  tensor::Generator g1(42), g2(42);
  init::kaiming_uniform_(a, &g1, std::sqrt(5.0));
  init::kaiming_uniform_(b, &g2, std::sqrt(5.0));
  EXPECT_TRUE(pm_test::tensors_close(a, b, 0, 0));
}

TEST(Init, KaimingBoundsAndStd) {
  tensor::Generator g(2);
  Tensor w = tensor::zeros({300, 50, 2}, DType::Float64);  // fan_in 100, fan_out 600
  init::kaiming_uniform_(w, &g, std::sqrt(5.0));
  Moments m = moments(w);
  const double bound = 1.0 / std::sqrt(100.0);  // sqrt(2 / 6) * sqrt(3 / 100)
  EXPECT_GE(m.lo, -bound);
  EXPECT_LE(m.hi, bound);
  EXPECT_GT(m.hi, 0.99 * bound);
  init::kaiming_uniform_(w, &g, 0.0, init::FanMode::FanOut, "relu");
  m = moments(w);
  EXPECT_LE(m.hi, std::sqrt(2.0) * std::sqrt(3.0 / 600.0));
  EXPECT_GT(m.hi, 0.99 * std::sqrt(2.0) * std::sqrt(3.0 / 600.0));
  init::kaiming_normal_(w, &g, 0.0, init::FanMode::FanIn, "relu");
  EXPECT_NEAR(std::sqrt(moments(w).var), std::sqrt(2.0 / 100.0), 0.003);
}

TEST(Init, XavierStd) {
  tensor::Generator g(3);
  Tensor w = tensor::zeros({200, 300}, DType::Float64);
  init::xavier_uniform_(w, &g);
  Moments m = moments(w);
  EXPECT_LE(m.hi, std::sqrt(6.0 / 500.0));
  EXPECT_NEAR(m.var, 2.0 / 500.0, 2e-4);
  init::xavier_normal_(w, &g, 2.0);
  EXPECT_NEAR(moments(w).var, 4.0 * 2.0 / 500.0, 4e-4);
}

TEST(Init, ErfinvInvertsErf) {
  // (Beyond |x| ~ 4, erf(x) rounds so close to 1 that x itself is ill-determined; the residual check
  // below covers that range.)
  for (double x : {-3.5, -1.2, -0.3, 0.0, 1e-9, 0.7, 2.0}) EXPECT_NEAR(init::erfinv(std::erf(x)), x, 1e-12 + 1e-9 * std::fabs(x));
  for (double y : {-0.999999, -0.5, 0.25, 0.9, 0.99999999}) EXPECT_NEAR(std::erf(init::erfinv(y)), y, 1e-15);
  EXPECT_TRUE(std::isinf(init::erfinv(1.0)));
  EXPECT_TRUE(std::isinf(init::erfinv(-1.0)));
  EXPECT_TRUE(std::isnan(init::erfinv(1.5)));
}

TEST(Init, TruncNormalStaysInBoundsWithTheTruncatedMoments) {
  tensor::Generator g(4);
  Tensor t = tensor::zeros({500, 200}, DType::Float64);
  init::trunc_normal_(t, &g, 0.0, 1.0, -1.0, 2.0);
  Moments m = moments(t);
  EXPECT_GE(m.lo, -1.0);
  EXPECT_LE(m.hi, 2.0);
  // Moments of N(0, 1) truncated to [-1, 2]: mean = (phi(-1) - phi(2)) / Z, Z = Phi(2) - Phi(-1).
  auto phi = [](double x) { return std::exp(-x * x / 2) / std::sqrt(2 * M_PI); };
  auto Phi = [](double x) { return 0.5 * (1 + std::erf(x / std::sqrt(2.0))); };
  const double Z = Phi(2) - Phi(-1), mean = (phi(-1) - phi(2)) / Z;
  const double var = 1 + (-1 * phi(-1) - 2 * phi(2)) / Z - mean * mean;
  EXPECT_NEAR(m.mean, mean, 0.01);
  EXPECT_NEAR(m.var, var, 0.01);
  // Float32 target and a small std (ViT-style std = 0.02).
  Tensor f = tensor::zeros({100, 100});
  init::trunc_normal_(f, &g, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(moments(f).var), 0.02, 0.001);
}

TEST(Init, LecunNormalStd) {
  tensor::Generator g(5);
  Tensor w = tensor::zeros({400, 16, 2, 2}, DType::Float64);  // fan_in 64
  init::lecun_normal_(w, &g);
  // std = sqrt(1/64) / 0.8796 = 0.142; timm's bounds +-2 lie 14 std out, so the draws are practically
  // an untruncated normal with that std.
  EXPECT_NEAR(std::sqrt(moments(w).var), 0.125 / 0.87962566103423978, 0.003);
  Moments m = moments(w);
  EXPECT_GE(m.lo, -2.0);
  EXPECT_LE(m.hi, 2.0);
}

TEST(Init, Errors) {
  tensor::Generator g;
  Tensor i = tensor::zeros({3, 3}, DType::Int64);
  Tensor f = tensor::zeros({3, 3});
  EXPECT_TRUE(throws_with([&] { init::uniform_(i, &g); }, {"init::uniform_: expected a float32 or float64 tensor, got int64"}));
  EXPECT_TRUE(throws_with([&] { init::normal_(i, &g); }, {"init::normal_: expected a float32 or float64 tensor"}));
  EXPECT_TRUE(throws_with([&] { init::uniform_(f, &g, 1, 0); }, {"init::uniform_: need low <= high"}));
  EXPECT_TRUE(throws_with([&] { init::normal_(f, &g, 0, -1); }, {"init::normal_: std must be >= 0, got -1"}));
  EXPECT_TRUE(throws_with([&] { init::trunc_normal_(f, &g, 0, 0); }, {"init::trunc_normal_: std must be > 0"}));
  EXPECT_TRUE(throws_with([&] { init::trunc_normal_(f, &g, 0, 1, 2, -2); }, {"init::trunc_normal_: need a < b"}));
  EXPECT_TRUE(throws_with([&] { init::kaiming_uniform_(tensor::zeros({4}), &g); },
                          {"init::fan_in_and_fan_out: needs a tensor with at least 2 dims, got shape [4]"}));
  EXPECT_TRUE(throws_with([&] { init::kaiming_uniform_(tensor::zeros({4, 0}), &g); },
                          {"init::kaiming_uniform_: tensor of shape [4, 0] has fan 0"}));
  EXPECT_TRUE(throws_with([&] { init::lecun_normal_(i, &g); }, {"init::lecun_normal_: expected a float32 or float64"}));
  EXPECT_TRUE(throws_with([&] { init::constant_(Tensor(), 1); }, {"init::constant_: input tensor is undefined"}));
}

}  // namespace
