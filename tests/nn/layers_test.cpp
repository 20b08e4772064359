// layers_test.cpp: the layers against PyTorch fixtures (Linear, Embedding, RMSNorm, LayerNorm,
// depthwise causal Conv1d, Conv2d: forward and backward), their initialisation ranges, Dropout,
// Identity, gradchecks of the composite causal convolution, and every shape/argument error.
#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "fixtures.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/identity.h"
#include "nn/linear.h"
#include "nn/norm.h"

namespace {

using autograd::Variable;
using nn_test::layers;
using pm_test::tensors_close;
using pm_test::throws_with;
using tensor::DType;
using tensor::Tensor;

constexpr double kRtol = 1e-10, kAtol = 1e-12;

// Runs `m` on the case's x (float64, requiring grad), back-propagates grad_out, and checks out,
// grad_x and the gradient of each named parameter against the fixture.
void check_case(nn::UnaryModule& m, const std::string& c, const std::vector<std::string>& params) {
  for (const auto& p : params) m.parameter(p).data().copy_(layers()[c + "." + p]);
  Variable x(layers()[c + ".x"], true);
  Variable y = m.forward(x);
  EXPECT_TRUE(tensors_close(y.data(), layers()[c + ".out"], kRtol, kAtol)) << c << " out";
  y.backward(layers()[c + ".grad_out"]);
  EXPECT_TRUE(tensors_close(x.grad(), layers()[c + ".grad_x"], kRtol, kAtol)) << c << " grad_x";
  for (const auto& p : params)
    EXPECT_TRUE(tensors_close(m.parameter(p).grad(), layers()[c + ".grad_" + p], kRtol, kAtol)) << c << " grad_" << p;
}

// ---- Linear ------------------------------------------------------------------------------------------

TEST(Linear, MatchesPyTorchWithBiasOnLeadingDims) {
  nn::Linear lin(5, 4, true, nullptr, DType::Float64);
  check_case(lin, "linear", {"weight", "bias"});
}

TEST(Linear, MatchesPyTorchWithoutBias) {
  nn::Linear lin(5, 3, false, nullptr, DType::Float64);
  EXPECT_FALSE(lin.has_bias());
  EXPECT_FALSE(lin.bias().defined());
  check_case(lin, "linear.nobias", {"weight"});
}

TEST(Linear, DefaultInitIsKaimingUniformSqrt5) {
  tensor::Generator g(7);
  nn::Linear lin(64, 200, true, &g);
  const double bound = 1.0 / std::sqrt(64.0);
  auto w = lin.weight().data().to_vector(), b = lin.bias().data().to_vector();
  double lo = 1, hi = -1, sum2 = 0;
  for (double v : w) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum2 += v * v;
  }
  EXPECT_GE(lo, -bound);
  EXPECT_LE(hi, bound);
  EXPECT_LT(lo, -0.95 * bound);  // the whole range is used
  EXPECT_GT(hi, 0.95 * bound);
  EXPECT_NEAR(sum2 / w.size(), bound * bound / 3, 0.05 * bound * bound / 3);  // variance of U(-b, b)
  for (double v : b) EXPECT_LE(std::fabs(v), bound);
  EXPECT_EQ(lin.weight().shape(), (tensor::Shape{200, 64}));
  // Seeded: the same generator seed gives the same weights.
  tensor::Generator g2(7);
  nn::Linear again(64, 200, true, &g2);
  EXPECT_TRUE(tensors_close(again.weight().data(), lin.weight().data(), 0, 0));
}

TEST(Linear, OneDimensionalInput) {
  nn::Linear lin(3, 2);
  Variable y = lin(Variable(tensor::ones({3})));
  EXPECT_EQ(y.shape(), (tensor::Shape{2}));
}

TEST(Linear, Errors) {
  nn::Linear lin(5, 4);
  EXPECT_TRUE(throws_with([&] { lin(Variable(tensor::zeros({2, 6}))); },
                          {"Linear: input of shape [2, 6] has last dim 6, expected 5 (in_features)"}));
  EXPECT_TRUE(throws_with([&] { lin(Variable(tensor::zeros({}))); },
                          {"Linear: input of shape [] has last dim (none), expected 5"}));
  EXPECT_TRUE(throws_with([] { nn::Linear(0, 3); },
                          {"Linear: in_features and out_features must be positive, got 0 and 3"}));
  Variable w(tensor::zeros({4, 5}));
  EXPECT_TRUE(throws_with([&] { nn::linear(Variable(tensor::zeros({2, 3})), w, Variable()); },
                          {"linear: input of shape [2, 3] does not match weight [4, 5] (the input's last dim must be 5)"}));
  EXPECT_TRUE(throws_with([&] { nn::linear(Variable(tensor::zeros({2, 5})), w, Variable(tensor::zeros({5}))); },
                          {"linear: bias of shape [5] for weight [4, 5] (expected [4])"}));
  EXPECT_TRUE(throws_with([&] { nn::linear(Variable(tensor::zeros({2, 5})), Variable(tensor::zeros({5})), Variable()); },
                          {"linear: weight must be 2-d [out, in], got [5]"}));
  EXPECT_TRUE(throws_with([&] { nn::linear(Variable(), w, Variable()); }, {"linear: input and weight must be defined"}));
  EXPECT_EQ(lin.extra_repr(), "in_features=5, out_features=4, bias=true");
}

// ---- Embedding ---------------------------------------------------------------------------------------

TEST(Embedding, MatchesPyTorchWithPaddingIdx) {
  nn::Embedding emb(10, 4, 1, nullptr, DType::Float64);
  emb.weight().data().copy_(layers()["embedding.weight"]);
  Tensor ids = layers()["embedding.ids"];
  Variable y = emb(ids);
  EXPECT_TRUE(tensors_close(y.data(), layers()["embedding.out"], kRtol, kAtol));
  y.backward(layers()["embedding.grad_out"]);
  EXPECT_TRUE(tensors_close(emb.weight().grad(), layers()["embedding.grad_weight"], kRtol, kAtol));
  EXPECT_EQ(emb.weight().grad().select(0, 1).to_vector(), std::vector<double>(4, 0.0));
}

TEST(Embedding, InitIsStandardNormalWithZeroPaddingRow) {
  tensor::Generator g(11);
  nn::Embedding emb(500, 40, -1, &g);
  EXPECT_EQ(emb.padding_idx().value(), 499);
  auto w = emb.weight().data();
  EXPECT_EQ(w.select(0, 499).to_vector(), std::vector<double>(40, 0.0));
  auto v = w.narrow(0, 0, 499).to_vector();
  double mean = 0, var = 0;
  for (double x : v) mean += x;
  mean /= v.size();
  for (double x : v) var += (x - mean) * (x - mean);
  var /= v.size();
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(var, 1.0, 0.03);
  EXPECT_EQ(emb.extra_repr(), "500, 40, padding_idx=499");
}

TEST(Embedding, Errors) {
  nn::Embedding emb(10, 4);
  EXPECT_TRUE(throws_with([&] { emb(tensor::zeros({3}, DType::Int32)); }, {"Embedding: ids must be int64, got int32"}));
  EXPECT_TRUE(throws_with([&] { emb(Tensor()); }, {"Embedding: ids tensor is undefined"}));
  EXPECT_TRUE(throws_with([&] { emb(tensor::full({2}, 10, DType::Int64)); }, {"10"}));  // the tensor op names the id
  EXPECT_TRUE(throws_with([] { nn::Embedding(10, 4, 10); },
                          {"Embedding: padding_idx 10 is out of range for 10 embeddings"}));
  EXPECT_TRUE(throws_with([] { nn::Embedding(10, 4, -11); },
                          {"Embedding: padding_idx -11 is out of range for 10 embeddings"}));
  EXPECT_TRUE(throws_with([] { nn::Embedding(0, 4); },
                          {"Embedding: num_embeddings and embedding_dim must be positive, got 0 and 4"}));
}

// ---- norms -------------------------------------------------------------------------------------------

TEST(RMSNorm, MatchesFormula) {
  nn::RMSNorm norm(8, 1e-5, DType::Float64);
  EXPECT_EQ(norm.weight().data().to_vector(), std::vector<double>(8, 1.0));
  check_case(norm, "rms_norm", {"weight"});
}

TEST(LayerNorm, MatchesPyTorch) {
  nn::LayerNorm norm(6, 1e-5, true, DType::Float64);
  EXPECT_EQ(norm.parameter("bias").data().to_vector(), std::vector<double>(6, 0.0));
  check_case(norm, "layer_norm", {"weight", "bias"});
}

TEST(LayerNorm, WithoutAffineHasNoParameters) {
  nn::LayerNorm norm(5, 1e-6, false);
  EXPECT_EQ(norm.num_parameters(), 0);
  Variable y = norm(Variable(tensor::randn({3, 5})));
  auto v = y.data().to_vector();
  double m = 0;
  for (int i = 0; i < 5; ++i) m += v[i];
  EXPECT_NEAR(m, 0.0, 1e-5);
  EXPECT_EQ(norm.extra_repr(), "5, eps=1e-06, affine=false");
}

TEST(Norms, Errors) {
  nn::RMSNorm rms(8);
  nn::LayerNorm ln(8);
  EXPECT_TRUE(throws_with([&] { rms(Variable(tensor::zeros({2, 7}))); },
                          {"RMSNorm: input of shape [2, 7] does not end in the normalised size 8"}));
  EXPECT_TRUE(throws_with([&] { ln(Variable(tensor::zeros({8, 2}))); },
                          {"LayerNorm: input of shape [8, 2] does not end in the normalised size 8"}));
  EXPECT_TRUE(throws_with([&] { rms(Variable()); }, {"RMSNorm: input is undefined"}));
  EXPECT_TRUE(throws_with([] { nn::RMSNorm(0); }, {"RMSNorm: size must be positive, got 0"}));
  EXPECT_TRUE(throws_with([] { nn::LayerNorm(4, -1.0); }, {"LayerNorm: eps must be >= 0, got -1"}));
}

// ---- depthwise causal Conv1d -------------------------------------------------------------------------

TEST(CausalConv1d, MatchesPyTorchDepthwisePaddedConv) {
  nn::CausalConv1d conv(6, 4, true, nullptr, DType::Float64);
  EXPECT_EQ(conv.parameter("weight").shape(), (tensor::Shape{6, 1, 4}));
  check_case(conv, "conv1d", {"weight", "bias"});
}

TEST(CausalConv1d, MatchesPyTorchWithoutBias) {
  nn::CausalConv1d conv(4, 3, false, nullptr, DType::Float64);
  check_case(conv, "conv1d.nobias", {"weight"});
}

TEST(CausalConv1d, IsCausal) {
  // Changing x at time t changes no output before t.
  tensor::Generator g(5);
  nn::CausalConv1d conv(3, 4, true, &g);
  Tensor x = tensor::randn({2, 3, 10}, DType::Float32, &g);
  Tensor y0 = conv(Variable(x)).data();
  Tensor x2 = x.clone();
  x2.narrow(2, 6, 1).fill_(100.0);
  Tensor y1 = conv(Variable(x2)).data();
  EXPECT_TRUE(tensors_close(y1.narrow(2, 0, 6), y0.narrow(2, 0, 6), 0, 0));
  EXPECT_FALSE(tensor::allclose(y1.narrow(2, 6, 1), y0.narrow(2, 6, 1)));
}

TEST(CausalConv1d, Gradcheck) {
  tensor::Generator g(9);
  auto fn = [](const std::vector<Variable>& in) { return nn::causal_conv1d(in[0], in[1], in[2]); };
  for (auto [B, C, L, K] : std::vector<std::array<int64_t, 4>>{{2, 3, 5, 4}, {1, 2, 3, 1}, {1, 2, 2, 3}}) {
    std::vector<Tensor> in = {tensor::randn({B, C, L}, DType::Float64, &g), tensor::randn({C, 1, K}, DType::Float64, &g),
                              tensor::randn({C}, DType::Float64, &g)};
    auto r = autograd::gradcheck(fn, in);
    EXPECT_TRUE(r.ok) << r.message;
  }
  // A [C, K] weight and no bias.
  auto fn2 = [](const std::vector<Variable>& in) { return nn::causal_conv1d(in[0], in[1], Variable()); };
  auto r = autograd::gradcheck(fn2, {tensor::randn({2, 2, 4}, DType::Float64, &g), tensor::randn({2, 3}, DType::Float64, &g)});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(CausalConv1d, InitBounds) {
  tensor::Generator g(2);
  nn::CausalConv1d conv(64, 4, true, &g);
  const double bound = 1.0 / std::sqrt(4.0);  // fan_in = K for a depthwise conv
  for (double v : conv.parameter("weight").data().to_vector()) EXPECT_LE(std::fabs(v), bound);
  for (double v : conv.parameter("bias").data().to_vector()) EXPECT_LE(std::fabs(v), bound);
  EXPECT_EQ(conv.extra_repr(), "channels=64, kernel_size=4, bias=true");
}

TEST(CausalConv1d, Errors) {
  nn::CausalConv1d conv(3, 4);
  EXPECT_TRUE(throws_with([&] { conv(Variable(tensor::zeros({2, 4, 5}))); },
                          {"CausalConv1d: input must be [B, 3, L], got [2, 4, 5]"}));
  EXPECT_TRUE(throws_with([&] { conv(Variable(tensor::zeros({3, 5}))); },
                          {"CausalConv1d: input must be [B, 3, L], got [3, 5]"}));
  EXPECT_TRUE(throws_with([] { nn::CausalConv1d(3, 0); },
                          {"CausalConv1d: channels and kernel_size must be positive, got 3 and 0"}));
  Variable x(tensor::zeros({1, 3, 5}));
  EXPECT_TRUE(throws_with([&] { nn::causal_conv1d(x, Variable(tensor::zeros({3, 2, 4})), Variable()); },
                          {"causal_conv1d: weight of shape [3, 2, 4] does not fit input [1, 3, 5] (expected [3, 1, K])"}));
  EXPECT_TRUE(throws_with([&] { nn::causal_conv1d(x, Variable(tensor::zeros({3, 4})), Variable(tensor::zeros({4}))); },
                          {"causal_conv1d: bias of shape [4] for 3 channels"}));
  EXPECT_TRUE(throws_with([&] { nn::causal_conv1d(Variable(tensor::zeros({3, 5})), Variable(tensor::zeros({3, 4})), Variable()); },
                          {"causal_conv1d: input must be [B, C, L], got [3, 5]"}));
}

// ---- Conv2d ------------------------------------------------------------------------------------------

TEST(Conv2d, PatchifyMatchesPyTorch) {
  nn::Conv2d conv(3, 5, 4, 4, 0, true, nullptr, DType::Float64);
  check_case(conv, "conv2d.patch", {"weight", "bias"});
}

TEST(Conv2d, OverlappingWithPaddingMatchesPyTorch) {
  nn::Conv2d conv(2, 3, {4, 4}, {2, 2}, {1, 1}, false, nullptr, DType::Float64);
  check_case(conv, "conv2d.overlap", {"weight"});
  EXPECT_EQ(conv.extra_repr(), "2, 3, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=false");
}

TEST(Conv2d, InitBoundsAndErrors) {
  tensor::Generator g(4);
  nn::Conv2d conv(3, 16, {2, 3}, 1, 0, true, &g);
  const double bound = 1.0 / std::sqrt(3.0 * 2 * 3);
  for (double v : conv.parameter("weight").data().to_vector()) EXPECT_LE(std::fabs(v), bound);
  for (double v : conv.parameter("bias").data().to_vector()) EXPECT_LE(std::fabs(v), bound);
  EXPECT_TRUE(throws_with([&] { conv(Variable(tensor::zeros({1, 4, 8, 8}))); },
                          {"Conv2d: input must be [B, 3, H, W], got [1, 4, 8, 8]"}));
  EXPECT_TRUE(throws_with([] { nn::Conv2d(3, 4, 2, 0); },
                          {"Conv2d: kernel (2, 2) and stride (0, 0) must be positive and padding (0, 0) non-negative"}));
  EXPECT_TRUE(throws_with([] { nn::Conv2d(0, 4, 2); },
                          {"Conv2d: in_channels and out_channels must be positive, got 0 and 4"}));
}

// ---- Dropout and Identity ----------------------------------------------------------------------------

TEST(Dropout, EvalIsIdentityAndTrainIsInvertedDropout) {
  auto gen = std::make_shared<tensor::Generator>(123);
  nn::Dropout drop(0.25, gen);
  Tensor x = tensor::full({200, 50}, 2.0);
  drop.eval();
  Variable xv(x, true);
  EXPECT_TRUE(drop(xv).same(xv));
  drop.train();
  Variable y = drop(xv);
  auto v = y.data().to_vector();
  size_t kept = 0;
  for (double e : v) {
    if (e != 0) {
      EXPECT_FLOAT_EQ(e, 2.0 / 0.75);
      ++kept;
    }
  }
  EXPECT_NEAR(static_cast<double>(kept) / v.size(), 0.75, 0.02);
  // The gradient is the same mask and scale.
  autograd::sum(y).backward();
  auto gv = xv.grad().to_vector();
  for (size_t i = 0; i < v.size(); ++i) EXPECT_FLOAT_EQ(gv[i], v[i] / 2.0);
  // Seeded: the same generator state gives the same mask; the generator advanced.
  EXPECT_EQ(gen->offset(), 200u * 50u);
  gen->set_offset(0);
  EXPECT_TRUE(tensors_close(drop(Variable(x)).data(), y.data(), 0, 0));
}

TEST(Dropout, ZeroAndOneAndDefaultGenerator) {
  Tensor x = tensor::randn({4, 4});
  EXPECT_TRUE(tensors_close(nn::Dropout(0.0)(Variable(x)).data(), x, 0, 0));
  EXPECT_TRUE(tensors_close(nn::Dropout(1.0)(Variable(x)).data(), tensor::zeros({4, 4}), 0, 0));
  nn::Dropout d(0.5);
  EXPECT_EQ(&d.generator(), &tensor::default_generator());
  EXPECT_EQ(d.extra_repr(), "p=0.5");
  EXPECT_TRUE(throws_with([] { nn::Dropout(1.5); }, {"Dropout: p must be in [0, 1], got 1.5"}));
  EXPECT_TRUE(throws_with([&] { nn::dropout(Variable(x), -0.1, true); }, {"dropout: p must be in [0, 1], got -0.1"}));
  EXPECT_TRUE(throws_with([&] { nn::dropout(Variable(), 0.1, true); }, {"dropout: input is undefined"}));
}

TEST(Identity, ReturnsItsInput) {
  nn::Identity id;
  Variable x(tensor::randn({2, 3}), true);
  EXPECT_TRUE(id(x).same(x));
  EXPECT_EQ(id.num_parameters(), 0);
}

}  // namespace
