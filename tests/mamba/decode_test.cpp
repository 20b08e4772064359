// decode_test.cpp: sampling (greedy, temperature, top-k, top-p; reproducible from a seed), generation
// against a naive loop over the full forward, and the library calls next_token_loss, classify and
// generate_greedy, with their errors.
#include <gtest/gtest.h>

#include <map>

#include "autograd/ops.h"
#include "common/test_util.h"
#include "mamba/api.h"
#include "mamba_test_util.h"
#include "nn/loss.h"

namespace {
using autograd::Variable;
using tensor::DType;
using tensor::Tensor;

TEST(SampleNext, GreedyTopKTopPAndTemperature) {
  Tensor logits = tensor::from_vector<double>({0.1, 2.0, 1.9, -1.0, 2.0}, {5});
  tensor::Generator g(1);
  mamba::SamplingOptions o;
  o.greedy = true;
  EXPECT_EQ(mamba::sample_next(logits, o, g), 1);  // first of the tied maxima
  o.greedy = false;
  o.temperature = 0;
  EXPECT_EQ(mamba::sample_next(logits, o, g), 1);
  o.temperature = 1;
  o.top_k = 1;
  EXPECT_EQ(mamba::sample_next(logits, o, g), 1);
  o.top_k = 0;
  o.top_p = 1e-6;
  EXPECT_EQ(mamba::sample_next(logits, o, g), 1);
  // top-k 3: only tokens 1, 4, 2 ever come out, in proportion to e^logit
  o.top_p = 1;
  o.top_k = 3;
  std::map<int64_t, int> seen;
  for (int i = 0; i < 3000; ++i) ++seen[mamba::sample_next(logits, o, g)];
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_TRUE(seen.count(1) && seen.count(2) && seen.count(4));
  EXPECT_NEAR(seen[2] / 3000.0, std::exp(1.9) / (2 * std::exp(2.0) + std::exp(1.9)), 0.03);
  // top-p 0.7 over {2.0, 2.0, 1.9, ...}: the three leading tokens are needed to reach 70 %
  o.top_k = 0;
  o.top_p = 0.7;
  seen.clear();
  for (int i = 0; i < 2000; ++i) ++seen[mamba::sample_next(logits, o, g)];
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_FALSE(seen.count(0) || seen.count(3));
  // a low temperature sharpens towards the maxima
  o.top_p = 1;
  o.temperature = 0.05;
  seen.clear();
  for (int i = 0; i < 500; ++i) ++seen[mamba::sample_next(logits, o, g)];
  EXPECT_EQ(seen[0] + seen[3], 0);
  // the same seed gives the same draws
  o.temperature = 1;
  tensor::Generator a(7), b(7);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(mamba::sample_next(logits, o, a), mamba::sample_next(logits, o, b));
}

TEST(SampleNext, Errors) {
  tensor::Generator g(1);
  mamba::SamplingOptions o;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::sample_next(tensor::zeros({2, 3}), o, g); }, {"sample_next", "[V]", "[2, 3]"}));
  o.temperature = -1;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::sample_next(tensor::zeros({3}), o, g); }, {"temperature must be >= 0"}));
  o.temperature = 1;
  o.top_k = -2;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::sample_next(tensor::zeros({3}), o, g); }, {"top_k must be >= 0"}));
  o.top_k = 0;
  o.top_p = 0;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::sample_next(tensor::zeros({3}), o, g); }, {"top_p must be in (0, 1]"}));
}

TEST(Generate, GreedyMatchesANaiveLoopOverTheFullForward) {
  tensor::Generator g(2);
  mamba::MambaLM lm(mamba_test::tiny_lm(60), &g, DType::Float64);
  for (auto& [name, p] : lm.named_parameters()) tensor::add_(p.data(), tensor::randn(p.shape(), DType::Float64, &g), 0.3);
  std::vector<int64_t> prompt = {3, 17, 42};
  std::vector<int64_t> got = mamba::generate_greedy(lm, prompt, 8);
  std::vector<int64_t> want = prompt;
  for (int i = 0; i < 8; ++i) {
    autograd::NoGradGuard ng;
    Tensor logits = lm.forward(tensor::from_vector(want, {1, static_cast<int64_t>(want.size())})).data();
    want.push_back(tensor::argmax(logits.select(1, logits.size(1) - 1), 1).item<int64_t>());
  }
  EXPECT_EQ(got, want);
  // an eos stops it
  std::vector<int64_t> stopped = mamba::generate_greedy(lm, prompt, 8, want[4]);
  EXPECT_EQ(stopped, std::vector<int64_t>(want.begin(), want.begin() + 5));
}

TEST(Generate, BatchedSamplingIsReproducible) {
  tensor::Generator g(3);
  mamba::MambaLM lm(mamba_test::tiny_lm(60), &g);
  Tensor prompt = tensor::randint(0, 60, {3, 4}, &g);
  mamba::SamplingOptions o;
  o.max_new_tokens = 6;
  o.top_k = 10;
  o.top_p = 0.9;
  o.temperature = 0.8;
  tensor::Generator a(99), b(99);
  Tensor x = mamba::generate(lm, prompt, o, &a), y = mamba::generate(lm, prompt, o, &b);
  EXPECT_EQ(x.shape(), (tensor::Shape{3, 10}));
  EXPECT_TRUE(pm_test::tensors_close(x, y, 0, 0));
  EXPECT_TRUE(pm_test::tensors_close(x.narrow(1, 0, 4), prompt, 0, 0));
  for (double v : x.to_vector()) EXPECT_TRUE(v >= 0 && v < 60);
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::generate(lm, tensor::zeros({2, 0}, DType::Int64), o); },
                                   {"generate", "int64 [b, L] with L >= 1", "[2, 0]"}));
  o.max_new_tokens = -1;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::generate(lm, prompt, o); }, {"max_new_tokens must be >= 0"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::generate_greedy(lm, {}, 3); }, {"generate_greedy", "prompt is empty"}));
}

TEST(Api, NextTokenLossWholeAndWindowed) {
  tensor::Generator g(4);
  mamba::MambaLM lm(mamba_test::tiny_lm(60), &g, DType::Float64);
  std::vector<int64_t> toks;
  for (int i = 0; i < 23; ++i) toks.push_back((i * 7 + 3) % 60);
  mamba::LossResult whole = mamba::next_token_loss(lm, toks);
  EXPECT_EQ(whole.predicted, 22);
  EXPECT_NEAR(whole.mean_loss, lm.next_token_loss(tensor::from_vector(toks, {1, 23})).item<double>(), 1e-12);
  EXPECT_NEAR(whole.perplexity(), std::exp(whole.mean_loss), 1e-9);
  // windows of 8 tokens overlapping by one: [0, 8), [7, 15), [14, 22), [21, 23)
  mamba::LossResult win = mamba::next_token_loss(lm, toks, 8);
  EXPECT_EQ(win.predicted, 22);
  double sum = 0;
  for (int64_t s : {0, 7, 14, 21}) {
    const int64_t len = std::min<int64_t>(8, 23 - s);
    std::vector<int64_t> piece(toks.begin() + s, toks.begin() + s + len);
    sum += lm.next_token_loss(tensor::from_vector(piece, {1, len})).item<double>() * static_cast<double>(len - 1);
  }
  EXPECT_NEAR(win.mean_loss, sum / 22, 1e-12);
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::next_token_loss(lm, {1}); }, {"next_token_loss", "at least 2 tokens"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::next_token_loss(lm, toks, 1); }, {"window must be 0", "got 1"}));
}

TEST(Api, ClassifyLossAndAccuracy) {
  tensor::Generator g(5);
  mamba::VisionMamba vim(mamba::vim_preset("vim-test"), &g);
  Tensor images = tensor::randn({6, 3, 16, 16}, DType::Float32, &g);
  Tensor logits = vim.forward(Variable(images)).data();
  Tensor pred = tensor::argmax(logits, 1);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < 6; ++i) labels.push_back(i < 4 ? static_cast<int64_t>(pred.at({i})) : (static_cast<int64_t>(pred.at({i})) + 1) % 5);
  Tensor lab = tensor::from_vector(labels, {6});
  mamba::ClassificationResult r = mamba::classify(vim, images, lab);
  EXPECT_EQ(r.total, 6);
  EXPECT_EQ(r.correct, 4);
  EXPECT_NEAR(r.accuracy, 4.0 / 6.0, 1e-12);
  EXPECT_NEAR(r.loss, nn::cross_entropy(Variable(logits), lab).item<double>(), 1e-5);
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::classify(vim, images, tensor::zeros({5}, DType::Int64)); },
                                   {"classify", "labels must be int64 [B]", "[6, 3, 16, 16]", "[5]"}));
}

}  // namespace
