// reduce_test.cpp: sum/mean/var/max over dims with keepdim, column and row paths, softmax and
// log_softmax along any dim, sum_to, against loops written here.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.h"

namespace {
using tensor::DType;
using tensor::Tensor;

TEST(Reduce, SumOverEachDimMatchesLoops) {
  tensor::Generator g(11);
  Tensor x = tensor::randn({3, 4, 5}, DType::Float64, &g);
  auto v = x.to_vector();
  auto at = [&](int i, int j, int k) { return v[(i * 4 + j) * 5 + k]; };
  std::vector<double> s0(20, 0), s1(15, 0), s2(12, 0), s02(4, 0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 5; ++k) {
        s0[j * 5 + k] += at(i, j, k);
        s1[i * 5 + k] += at(i, j, k);
        s2[i * 4 + j] += at(i, j, k);
        s02[j] += at(i, j, k);
      }
  EXPECT_TRUE(pm_test::tensors_close(tensor::sum(x, {0}), tensor::from_vector(s0, {4, 5}), 1e-12));
  EXPECT_TRUE(pm_test::tensors_close(tensor::sum(x, {1}), tensor::from_vector(s1, {3, 5}), 1e-12));
  EXPECT_TRUE(pm_test::tensors_close(tensor::sum(x, {-1}, true), tensor::from_vector(s2, {3, 4, 1}), 1e-12));
  EXPECT_TRUE(pm_test::tensors_close(tensor::sum(x, {0, 2}), tensor::from_vector(s02, {4}), 1e-12));
  double total = 0;
  for (double e : v) total += e;
  EXPECT_NEAR(tensor::sum(x).item<double>(), total, 1e-12);
  EXPECT_EQ(tensor::sum(x).dim(), 0);
  EXPECT_NEAR(tensor::mean(x).item<double>(), total / 60, 1e-12);
  // the same through a permuted (non-contiguous) view
  EXPECT_TRUE(pm_test::tensors_close(tensor::sum(x.permute({2, 0, 1}), {1}), tensor::from_vector(s0, {4, 5}).transpose(0, 1), 1e-12));
}

TEST(Reduce, LargeColumnSumInFloat32IsAccurate) {
  Tensor x = tensor::full({100000, 3}, 0.1, DType::Float32);
  auto s = tensor::sum(x, {0}).to_vector();
  for (double e : s) EXPECT_NEAR(e, 10000.0, 1e-2);  // double accumulation
  auto r = tensor::sum(x.transpose(0, 1), {1}).to_vector();
  for (double e : r) EXPECT_NEAR(e, 10000.0, 1e-2);
}

TEST(Reduce, VarMatchesTwoPassFormula) {
  Tensor x = tensor::from_vector<double>({1, 2, 3, 4, 10, 20, 30, 40}, {2, 4});
  EXPECT_TRUE(pm_test::tensors_close(tensor::var(x, {1}), tensor::from_vector<double>({5.0 / 3, 500.0 / 3}, {2})));
  EXPECT_TRUE(pm_test::tensors_close(tensor::var(x, {1}, 0), tensor::from_vector<double>({1.25, 125}, {2})));
  EXPECT_TRUE(pm_test::tensors_close(tensor::var(x, {0}, 1, true), tensor::from_vector<double>({40.5, 162, 364.5, 648}, {1, 4})));
}

TEST(Reduce, MaxArgmaxAnyDim) {
  Tensor x = tensor::from_vector<double>({1, 9, 3, 7, 2, 8}, {2, 3});
  auto [v1, i1] = tensor::max(x, 1);
  EXPECT_EQ(v1.to_vector(), (std::vector<double>{9, 8}));
  EXPECT_EQ(i1.to_vector(), (std::vector<double>{1, 2}));
  auto [v0, i0] = tensor::max(x, 0, true);
  EXPECT_EQ(v0.shape(), (tensor::Shape{1, 3}));
  EXPECT_EQ(v0.to_vector(), (std::vector<double>{7, 9, 8}));
  EXPECT_EQ(i0.to_vector(), (std::vector<double>{1, 0, 1}));
  tensor::Generator g(5);
  Tensor y = tensor::randn({3, 4, 5}, DType::Float32, &g);
  auto [vm, im] = tensor::max(y, 1);
  auto yv = y.to_vector();
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 5; ++k) {
      int best = 0;
      for (int j = 1; j < 4; ++j)
        if (yv[(i * 4 + j) * 5 + k] > yv[(i * 4 + best) * 5 + k]) best = j;
      EXPECT_EQ(im.at({i, k}), best);
      EXPECT_EQ(vm.at({i, k}), yv[(i * 4 + best) * 5 + k]);
    }
  EXPECT_EQ(tensor::argmax(tensor::from_vector<int64_t>({3, 5, 5}, {3}), 0).item<int64_t>(), 1);  // first of ties
  EXPECT_EQ(tensor::max_all(x).item<double>(), 9);
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::max(tensor::zeros({2, 0}), 1); }, {"max", "empty"}));
}

TEST(Reduce, SumToUndoesBroadcasting) {
  Tensor g = tensor::ones({2, 3, 4}, DType::Float64);
  EXPECT_EQ(tensor::sum_to(g, {3, 1}).to_vector(), (std::vector<double>{8, 8, 8}));
  EXPECT_EQ(tensor::sum_to(g, {4}).to_vector(), (std::vector<double>(4, 6)));
  EXPECT_EQ(tensor::sum_to(g, {}).item<double>(), 24);
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::sum_to(g, {5}); }, {"sum_to", "[2, 3, 4]", "[5]"}));
}

TEST(Reduce, ErrorsNameTheDim) {
  Tensor x = tensor::zeros({2, 3});
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::sum(x, {2}); }, {"sum", "dim 2", "2-d"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::sum(x, {1, -1}); }, {"sum", "twice"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::mean(tensor::arange(3)); }, {"mean", "int64"}));
}

TEST(Softmax, RowsSumToOneAlongAnyDim) {
  tensor::Generator g(9);
  Tensor x = tensor::randn({3, 4, 5}, DType::Float64, &g, 0, 5);
  for (int64_t d = 0; d < 3; ++d) {
    Tensor y = tensor::softmax(x, d);
    EXPECT_TRUE(pm_test::tensors_close(tensor::sum(y, {d}), tensor::ones(tensor::sum(y, {d}).shape(), DType::Float64), 1e-12));
    EXPECT_TRUE(pm_test::tensors_close(tensor::log_softmax(x, d), tensor::log(y), 1e-10, 1e-12));
  }
  // exact values for one row
  Tensor r = tensor::from_vector<double>({1, 2, 3}, {3});
  double z = std::exp(1) + std::exp(2) + std::exp(3);
  EXPECT_TRUE(pm_test::tensors_close(tensor::softmax(r, 0), tensor::from_vector<double>({std::exp(1) / z, std::exp(2) / z, std::exp(3) / z}, {3})));
}

TEST(Softmax, LargeLogitsDoNotOverflow) {
  Tensor x = tensor::from_vector<float>({1000.f, 1000.f, -1000.f}, {3});
  auto y = tensor::softmax(x, 0).to_vector();
  EXPECT_NEAR(y[0], 0.5, 1e-6);
  EXPECT_NEAR(y[2], 0.0, 1e-6);
  auto l = tensor::log_softmax(x, 0).to_vector();
  EXPECT_NEAR(l[0], -std::log(2.0), 1e-5);
}

}  // namespace
