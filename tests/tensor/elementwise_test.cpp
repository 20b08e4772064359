// elementwise_test.cpp: values of the unary and binary ops against std:: formulas, broadcasting,
// non-contiguous operands, comparisons, where/masked_fill, in-place updates and error messages.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.h"

namespace {
using tensor::DType;
using tensor::Tensor;
using tensor::UnaryOp;

// Reference scalar formulas, written independently of the kernels.
double ref_unary(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Log1p: return std::log(1 + x);
    case UnaryOp::Expm1: return std::exp(x) - 1;
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Rsqrt: return 1 / std::sqrt(x);
    case UnaryOp::Abs: return std::fabs(x);
    case UnaryOp::Sigmoid: return 1 / (1 + std::exp(-x));
    case UnaryOp::Tanh: return std::tanh(x);
    case UnaryOp::Relu: return x > 0 ? x : 0;
    case UnaryOp::Silu: return x / (1 + std::exp(-x));
    case UnaryOp::Softplus: return x > 20 ? x : std::log(1 + std::exp(x));
    case UnaryOp::Gelu: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case UnaryOp::Square: return x * x;
    case UnaryOp::Sign: return (x > 0) - (x < 0);
  }
  return 0;
}

class UnaryValues : public ::testing::TestWithParam<UnaryOp> {};

TEST_P(UnaryValues, MatchFormulaInBothFloatTypes) {
  UnaryOp op = GetParam();
  bool positive = op == UnaryOp::Log || op == UnaryOp::Log1p || op == UnaryOp::Sqrt || op == UnaryOp::Rsqrt;
  tensor::Generator g(7);
  Tensor x = positive ? tensor::rand({4, 5}, DType::Float64, &g, 0.1, 3) : tensor::randn({4, 5}, DType::Float64, &g, 0, 3);
  std::vector<double> expect;
  for (double v : x.to_vector()) expect.push_back(ref_unary(op, v));
  Tensor ref = tensor::from_vector(expect, {4, 5});
  EXPECT_TRUE(pm_test::tensors_close(tensor::unary(op, x), ref, 1e-12, 1e-12));
  EXPECT_TRUE(pm_test::tensors_close(tensor::unary(op, x.to(DType::Float32)), ref, 1e-5, 1e-6));
  // a transposed (non-contiguous) input gives the transposed result
  EXPECT_TRUE(pm_test::tensors_close(tensor::unary(op, x.transpose(0, 1)), ref.transpose(0, 1), 1e-12, 1e-12));
}

INSTANTIATE_TEST_SUITE_P(All, UnaryValues,
                         ::testing::Values(UnaryOp::Neg, UnaryOp::Exp, UnaryOp::Log, UnaryOp::Log1p, UnaryOp::Expm1,
                                           UnaryOp::Sqrt, UnaryOp::Rsqrt, UnaryOp::Abs, UnaryOp::Sigmoid, UnaryOp::Tanh,
                                           UnaryOp::Relu, UnaryOp::Silu, UnaryOp::Softplus, UnaryOp::Gelu,
                                           UnaryOp::Square, UnaryOp::Sign),
                         [](const auto& info) { return std::string(tensor::unary_name(info.param)); });

TEST(Unary, SigmoidAndSoftplusAreStableAtExtremes) {
  Tensor x = tensor::from_vector<float>({-1000.f, 1000.f, 25.f}, {3});
  auto s = tensor::sigmoid(x).to_vector();
  EXPECT_EQ(s[0], 0.0);
  EXPECT_EQ(s[1], 1.0);
  auto sp = tensor::softplus(x).to_vector();
  EXPECT_EQ(sp[0], 0.0);
  EXPECT_EQ(sp[1], 1000.0);  // the threshold-20 identity, no overflow
  EXPECT_EQ(sp[2], 25.0);
}

TEST(Binary, BroadcastingAndValues) {
  Tensor a = tensor::from_vector<double>({1, 2, 3}, {3, 1});
  Tensor b = tensor::from_vector<double>({10, 20}, {2});
  EXPECT_TRUE(pm_test::tensors_close(tensor::add(a, b), tensor::from_vector<double>({11, 21, 12, 22, 13, 23}, {3, 2})));
  EXPECT_TRUE(pm_test::tensors_close(tensor::sub(a, b), tensor::from_vector<double>({-9, -19, -8, -18, -7, -17}, {3, 2})));
  EXPECT_TRUE(pm_test::tensors_close(tensor::div(b, a), tensor::from_vector<double>({10, 20, 5, 10, 10. / 3, 20. / 3}, {3, 2})));
  EXPECT_TRUE(pm_test::tensors_close(tensor::pow(a, tensor::from_vector<double>({2}, {1})), tensor::from_vector<double>({1, 4, 9}, {3, 1})));
  EXPECT_TRUE(pm_test::tensors_close(tensor::maximum(a, tensor::scalar_tensor(2, DType::Float64)), tensor::from_vector<double>({2, 2, 3}, {3, 1})));
  EXPECT_TRUE(pm_test::tensors_close(tensor::minimum(a, tensor::scalar_tensor(2, DType::Float64)), tensor::from_vector<double>({1, 2, 2}, {3, 1})));
  EXPECT_TRUE(pm_test::tensors_close(tensor::mul(a, 2.0), tensor::from_vector<double>({2, 4, 6}, {3, 1})));
}

TEST(Binary, NonContiguousAndExpandedOperands) {
  tensor::Generator g(3);
  Tensor a = tensor::randn({6, 4}, DType::Float32, &g);
  Tensor at = a.transpose(0, 1);                 // [4, 6], strided
  Tensor b = tensor::randn({6}, DType::Float32, &g).expand({4, 6});  // stride 0 rows
  Tensor got = tensor::mul(at, b);
  Tensor want = tensor::mul(at.contiguous(), b.contiguous());
  EXPECT_TRUE(pm_test::tensors_close(got, want, 0, 0));
  Tensor big = tensor::randn({300, 257}, DType::Float32, &g);  // large enough to run in parallel
  Tensor sl = big.slice(1, 1, 257, 2);
  EXPECT_TRUE(pm_test::tensors_close(tensor::add(sl, sl), tensor::mul(sl.contiguous(), 2.0), 0, 0));
}

TEST(Binary, IntegerArithmetic) {
  Tensor a = tensor::arange(5);
  EXPECT_EQ(tensor::add(a, a).to_vector(), (std::vector<double>{0, 2, 4, 6, 8}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::div(a, a); }, {"div", "division by zero"}));
}

TEST(Binary, NaNPropagatesThroughMaximum) {
  Tensor a = tensor::from_vector<float>({NAN, 1.f}, {2}), b = tensor::from_vector<float>({0.f, NAN}, {2});
  auto m = tensor::maximum(a, b).to_vector();
  EXPECT_TRUE(std::isnan(m[0]));
  EXPECT_TRUE(std::isnan(m[1]));
}

TEST(Binary, ErrorsNameOpAndShapes) {
  Tensor a = tensor::zeros({2, 3}), b = tensor::zeros({4});
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::add(a, b); }, {"add", "[2, 3]", "[4]", "broadcast"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::mul(a, tensor::zeros({2, 3}, DType::Float64)); }, {"mul", "dtype", "float32", "float64"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::exp(tensor::arange(3)); }, {"exp", "float32 or float64", "int64"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::add(a, Tensor()); }, {"add", "undefined"}));
}

TEST(Compare, WhereAndMaskedFill) {
  Tensor a = tensor::from_vector<double>({1, 5, 3}, {3}), b = tensor::from_vector<double>({2, 2, 3}, {3});
  EXPECT_EQ(tensor::compare(tensor::CompareOp::Gt, a, b).to_vector(), (std::vector<double>{0, 1, 0}));
  EXPECT_EQ(tensor::compare(tensor::CompareOp::Eq, a, b).to_vector(), (std::vector<double>{0, 0, 1}));
  EXPECT_EQ(tensor::compare(tensor::CompareOp::Le, a, b).to_vector(), (std::vector<double>{1, 0, 1}));
  Tensor cond = tensor::compare(tensor::CompareOp::Gt, a, b);
  EXPECT_EQ(tensor::where(cond, a, b).to_vector(), (std::vector<double>{2, 5, 3}));
  EXPECT_EQ(tensor::masked_fill(a, cond, -1).to_vector(), (std::vector<double>{1, -1, 3}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::where(a, a, b); }, {"where", "uint8", "float64"}));
  EXPECT_EQ(tensor::clamp(a, 2, 4).to_vector(), (std::vector<double>{2, 4, 3}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::clamp(a, 4, 2); }, {"clamp", "lo"}));
}

TEST(InPlace, AddAndScale) {
  Tensor d = tensor::zeros({2, 3}, DType::Float64);
  tensor::add_(d, tensor::from_vector<double>({1, 2, 3}, {3}), 2.0);
  EXPECT_EQ(d.to_vector(), (std::vector<double>{2, 4, 6, 2, 4, 6}));
  tensor::mul_(d, 0.5);
  EXPECT_EQ(d.to_vector(), (std::vector<double>{1, 2, 3, 1, 2, 3}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::add_(tensor::zeros({3}, DType::Float64), d); }, {"add_", "[2, 3]", "[3]"}));
}

}  // namespace
