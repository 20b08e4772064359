// functional_test.cpp: ProDiaL's, LoRA's and DoRA's functions (prodial/functional.h) against dense
// formulas written out here element by element, their finite-difference gradients (float64
// gradcheck), and the official code's frozen diagonal (relu'(0) = 0).
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "common/test_util.h"
#include "prodial/functional.h"
#include "tensor/ops.h"

namespace {

using autograd::Variable;
using pm_test::tensors_close;
using tensor::DType;
using tensor::Tensor;

Tensor randn(const tensor::Shape& s, tensor::Generator& g, double std = 1.0) {
  return tensor::randn(s, DType::Float64, &g, 0.0, std);
}

// D_b written out from the definition: block k holds R[k] off the diagonal, 1 - relu(r_ii) (frozen)
// or 1 - r_ii (trainable) on it; zeros outside the blocks.
Tensor dense_db(const Tensor& R, bool trainable) {
  const int64_t rb = R.size(0), n = R.size(1), d = rb * n;
  const auto r = R.contiguous().to_vector();
  std::vector<double> D(d * d, 0.0);
  for (int64_t k = 0; k < rb; ++k)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const double v = r[(k * n + i) * n + j];
        D[(k * n + i) * d + k * n + j] = i != j ? v : (trainable ? 1.0 - v : 1.0 - std::max(v, 0.0));
      }
  return tensor::from_vector(D, {d, d});
}

// y = s ⊙ (x D^T W^T) + b, the dense form.
Tensor dense_prodial(const Tensor& x, const Tensor& W, const Tensor& b, const Tensor& D, const Tensor& s) {
  Tensor y = tensor::matmul(tensor::matmul(x, D.transpose(0, 1)), W.transpose(0, 1));
  return tensor::add(tensor::mul(y, s), b);
}

struct BlockCase {
  int64_t rb;
  bool trainable;
};

class ProdialBlocks : public ::testing::TestWithParam<BlockCase> {};

TEST_P(ProdialBlocks, BlockwiseEqualsDense) {
  const auto [rb, trainable] = GetParam();
  const int64_t d_in = 12, d_out = 8, n = d_in / rb;
  tensor::Generator g(rb * 10 + trainable);
  const Tensor x = randn({2, 5, d_in}, g), W = randn({d_out, d_in}, g), b = randn({d_out}, g);
  const Tensor R = randn({rb, n, n}, g, 0.5), s = tensor::add(randn({d_out}, g, 0.2), 1.0);
  const Tensor D = dense_db(R, trainable);
  EXPECT_TRUE(tensors_close(prodial::prodial_dense_db(R, trainable), D, 0, 0));
  const Tensor y = prodial::prodial_linear(Variable(x), Variable(W), Variable(b), Variable(R), Variable(s), trainable).data();
  EXPECT_TRUE(tensors_close(y, dense_prodial(x, W, b, D, s), 1e-12, 1e-12));
  // merged weight diag(s) W D_b
  const Tensor merged = prodial::prodial_merged_weight(W, R, s, trainable);
  EXPECT_TRUE(tensors_close(merged, tensor::mul(tensor::matmul(W, D), s.reshape({d_out, 1})), 1e-12, 1e-12));
  // float32 too (the models' dtype)
  const Tensor y32 = prodial::prodial_linear(Variable(x.to(DType::Float32)), Variable(W.to(DType::Float32)),
                                             Variable(b.to(DType::Float32)), Variable(R.to(DType::Float32)),
                                             Variable(s.to(DType::Float32)), trainable).data();
  EXPECT_TRUE(tensors_close(y32, dense_prodial(x, W, b, D, s), 1e-4, 1e-5));
}

TEST_P(ProdialBlocks, Gradcheck) {
  const auto [rb, trainable] = GetParam();
  const int64_t d_in = 12, d_out = 5, n = d_in / rb;
  tensor::Generator g(77 + rb);
  // R drawn away from 0 on the diagonal so relu is differentiable at every point checked.
  Tensor R = randn({rb, n, n}, g, 0.5);
  R = tensor::add(R, tensor::mul(tensor::sign(R), 0.05));
  const std::vector<Tensor> inputs = {randn({3, d_in}, g), randn({d_out, d_in}, g), randn({d_out}, g), R,
                                      tensor::add(randn({d_out}, g, 0.2), 1.0)};
  const bool td = trainable;
  auto f = [td](const std::vector<Variable>& v) { return prodial::prodial_linear(v[0], v[1], v[2], v[3], v[4], td); };
  auto r = autograd::gradcheck(f, inputs);
  EXPECT_TRUE(r.ok) << r.message;
}

INSTANTIATE_TEST_SUITE_P(Blocks, ProdialBlocks,
                         ::testing::Values(BlockCase{1, false}, BlockCase{2, false}, BlockCase{3, false},
                                           BlockCase{4, true}, BlockCase{12, false}, BlockCase{12, true},
                                           BlockCase{1, true}),
                         [](const auto& info) {
                           return "rb" + std::to_string(info.param.rb) + (info.param.trainable ? "_trainable" : "_frozen");
                         });

// With R = 0 (the initialisation) the official parameterisation's diagonal gets no gradient (relu'(0)
// = 0), so it stays at 1 under any optimiser; off-diagonal entries and s do learn. The trainable mode
// gives the diagonal a gradient.
TEST(Prodial, FrozenDiagonalHasZeroGradientAtInit) {
  const int64_t d_in = 6, d_out = 4, rb = 2, n = 3;
  tensor::Generator g(5);
  for (bool trainable : {false, true}) {
    Variable x(randn({4, d_in}, g)), W(randn({d_out, d_in}, g));
    Variable R(tensor::zeros({rb, n, n}, DType::Float64), true), s(tensor::ones({d_out}, DType::Float64), true);
    Variable y = prodial::prodial_linear(x, W, Variable(), R, s, trainable);
    autograd::sum(autograd::mul(y, Variable(randn(y.shape(), g)))).backward();
    ASSERT_TRUE(R.grad().defined());
    double diag = 0, off = 0;
    const auto gr = R.grad().to_vector();
    for (int64_t k = 0; k < rb; ++k)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) (i == j ? diag : off) += std::fabs(gr[(k * n + i) * n + j]);
    if (trainable) EXPECT_GT(diag, 1e-6);
    else EXPECT_EQ(diag, 0.0);
    EXPECT_GT(off, 1e-6);
    // at R = 0 the layer is W itself
    EXPECT_TRUE(tensors_close(y.data(), tensor::matmul(x.data(), W.data().transpose(0, 1)), 0, 0));
  }
}

TEST(Prodial, BlockSizeMustDivide) {
  tensor::Generator g(1);
  Variable x(randn({2, 6}, g)), W(randn({3, 6}, g)), s(tensor::ones({3}, DType::Float64));
  EXPECT_TRUE(pm_test::throws_with(
      [&] { prodial::prodial_linear(x, W, Variable(), Variable(tensor::zeros({4, 2, 2}, DType::Float64)), s, false); },
      {"prodial_linear", "[4, 2, 2]"}));
}

// ---- LoRA and DoRA ----------------------------------------------------------------------------------

TEST(Lora, BranchAndDelta) {
  tensor::Generator g(3);
  const Tensor x = randn({2, 3, 6}, g), A = randn({2, 6}, g), B = randn({5, 2}, g);
  const Tensor y = prodial::lora_branch(Variable(x), Variable(A), Variable(B), 0.5).data();
  const Tensor delta = prodial::lora_delta(A, B, 0.5);
  EXPECT_TRUE(tensors_close(y, tensor::matmul(x, delta.transpose(0, 1)), 1e-12, 1e-12));
  EXPECT_TRUE(tensors_close(delta, tensor::mul(tensor::matmul(B, A), 0.5), 1e-14, 1e-14));
}

// peft's DoRA written out: V = W + s B A, g_o = m_o / ||V_o||, y = x W^T + b + (g - 1) xd W^T + g s xd (BA)^T.
Tensor dense_dora(const Tensor& x, const Tensor& xd, const Tensor& W, const Tensor& b, const Tensor& A,
                  const Tensor& B, const Tensor& m, double scale) {
  const Tensor BA = tensor::matmul(B, A);
  const Tensor V = tensor::add(W, tensor::mul(BA, scale));
  const int64_t d_out = W.size(0), d_in = W.size(1);
  auto v = V.contiguous().to_vector(), mv = m.to_vector();
  std::vector<double> gv(d_out);
  for (int64_t o = 0; o < d_out; ++o) {
    double s2 = 0;
    for (int64_t i = 0; i < d_in; ++i) s2 += v[o * d_in + i] * v[o * d_in + i];
    gv[o] = mv[o] / std::sqrt(s2);
  }
  const Tensor gt = tensor::from_vector(gv, {d_out});
  Tensor y = tensor::add(tensor::matmul(x, W.transpose(0, 1)), b);
  y = tensor::add(y, tensor::mul(tensor::matmul(xd, W.transpose(0, 1)), tensor::add(gt, -1.0)));
  return tensor::add(y, tensor::mul(tensor::mul(tensor::matmul(xd, BA.transpose(0, 1)), scale), gt));
}

TEST(Dora, MatchesPeftFormula) {
  tensor::Generator g(9);
  const Tensor x = randn({2, 4, 6}, g), xd = randn({2, 4, 6}, g), W = randn({5, 6}, g), b = randn({5}, g);
  const Tensor A = randn({3, 6}, g), B = randn({5, 3}, g), m = tensor::add(tensor::abs(randn({5}, g)), 0.5);
  const double scale = 8.0 / 3.0;
  // dropout active (xd != x) and inactive (xd is x)
  Tensor y = prodial::dora_linear(Variable(x), Variable(xd), Variable(W), Variable(b), Variable(A), Variable(B),
                                  Variable(m), scale).data();
  EXPECT_TRUE(tensors_close(y, dense_dora(x, xd, W, b, A, B, m, scale), 1e-12, 1e-12));
  Variable xv(x);
  y = prodial::dora_linear(xv, xv, Variable(W), Variable(b), Variable(A), Variable(B), Variable(m), scale).data();
  EXPECT_TRUE(tensors_close(y, dense_dora(x, x, W, b, A, B, m, scale), 1e-12, 1e-12));
  // and that equals the merged weight's layer
  const Tensor merged = prodial::dora_merged_weight(W, A, B, m, scale);
  EXPECT_TRUE(tensors_close(y, tensor::add(tensor::matmul(x, merged.transpose(0, 1)), b), 1e-12, 1e-12));
}

// Without detaching the norm, every input's gradient is the true one.
TEST(Dora, GradcheckFullGradient) {
  tensor::Generator g(10);
  const std::vector<Tensor> inputs = {randn({3, 6}, g), randn({3, 6}, g), randn({4, 6}, g), randn({4}, g),
                                      randn({2, 6}, g), randn({4, 2}, g), tensor::add(tensor::abs(randn({4}, g)), 0.5)};
  auto f = [](const std::vector<Variable>& v) {
    return prodial::dora_linear(v[0], v[1], v[2], v[3], v[4], v[5], v[6], 1.5, /*detach_norm=*/false);
  };
  auto r = autograd::gradcheck(f, inputs);
  EXPECT_TRUE(r.ok) << r.message;
  // xd is x (no dropout): the merged-form path
  auto f2 = [](const std::vector<Variable>& v) {
    return prodial::dora_linear(v[0], v[0], v[1], v[2], v[3], v[4], v[5], 1.5, false);
  };
  auto r2 = autograd::gradcheck(f2, {inputs[0], inputs[2], inputs[3], inputs[4], inputs[5], inputs[6]});
  EXPECT_TRUE(r2.ok) << r2.message;
}

// With the norm detached (peft, the default), the gradients of x, xd, b and m are still exact (the
// norm does not depend on them); A's and B's deliberately omit the norm's path.
TEST(Dora, GradcheckDetachedNorm) {
  tensor::Generator g(11);
  const std::vector<Tensor> inputs = {randn({3, 6}, g), randn({3, 6}, g), randn({4, 6}, g), randn({4}, g),
                                      randn({2, 6}, g), randn({4, 2}, g), tensor::add(tensor::abs(randn({4}, g)), 0.5)};
  auto f = [](const std::vector<Variable>& v) {
    return prodial::dora_linear(v[0], v[1], v[2], v[3], v[4], v[5], v[6], 1.5, /*detach_norm=*/true);
  };
  auto r = autograd::gradcheck(f, inputs, {}, {true, true, false, true, false, false, true});
  EXPECT_TRUE(r.ok) << r.message;
  // A's gradient with the norm treated as a constant: compare with the full-gradient function evaluated
  // with that norm frozen at its value (finite differences of x -> y with g fixed).
  const Tensor norm = prodial::dora_weight_norm(Variable(inputs[2]), Variable(inputs[4]), Variable(inputs[5]), 1.5).data();
  auto fixed = [norm](const std::vector<Variable>& v) {
    Variable gscale = autograd::div(v[6], Variable(norm));
    Variable xw = autograd::matmul(v[1], autograd::transpose(v[2], 0, 1));
    Variable lora = prodial::lora_branch(v[1], v[4], v[5], 1.5);
    Variable base = autograd::add(autograd::matmul(v[0], autograd::transpose(v[2], 0, 1)), v[3]);
    return autograd::add(autograd::add(base, autograd::mul(xw, autograd::add(gscale, -1.0))), autograd::mul(lora, gscale));
  };
  std::vector<Variable> a, b;
  for (size_t i = 0; i < inputs.size(); ++i) {
    a.emplace_back(inputs[i].clone(), true);
    b.emplace_back(inputs[i].clone(), true);
  }
  Tensor w = randn({3, 4}, g);
  autograd::sum(autograd::mul(f(a), Variable(w))).backward();
  autograd::sum(autograd::mul(fixed(b), Variable(w))).backward();
  EXPECT_TRUE(tensors_close(a[4].grad(), b[4].grad(), 1e-12, 1e-12));
  EXPECT_TRUE(tensors_close(a[5].grad(), b[5].grad(), 1e-12, 1e-12));
}

}  // namespace
