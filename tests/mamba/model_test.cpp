// model_test.cpp: MambaMixer (one- and two-directional) against a composite built from the oracle ops,
// replaceable in_proj / out_proj, MambaLM's vocabulary padding, tying, losses and token-by-token
// decoding against the full forward, mamba_ssm's / Vim's initialisation, parameter counts of the
// presets, VisionMamba's shapes and stochastic depth, and the argument errors.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "common/test_util.h"
#include "mamba/init.h"
#include "mamba/lm.h"
#include "mamba/ops/reference.h"
#include "mamba/vision.h"
#include "mamba_test_util.h"
#include "nn/container.h"
#include "nn/linear.h"
#include "nn/loss.h"

namespace {
namespace ag = autograd;
using autograd::Variable;
using mamba_test::rel_err;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

mamba::MixerConfig mixer_cfg(bool bidirectional) {
  mamba::MixerConfig c;
  c.d_model = 6, c.d_inner = 12, c.d_state = 5, c.d_conv = 3, c.dt_rank = 2;
  c.bidirectional = bidirectional;
  return c;
}

// One direction of the mixer from the oracle ops (composite conv, step-by-step scan).
Variable ref_branch(mamba::MambaMixer& m, const Variable& x, const Variable& z, bool reverse) {
  const auto& c = m.config();
  const std::string s = reverse ? "_b" : "";
  Variable u = mamba::causal_conv1d_ref(x, m.parameter("conv1d" + s + ".weight"), m.parameter("conv1d" + s + ".bias"),
                                        true, reverse);
  Variable xdbl = ag::matmul(ag::transpose(u, 1, 2), ag::transpose(m.parameter("x_proj" + s + ".weight"), 0, 1));
  Variable dt = ag::narrow(xdbl, 2, 0, c.dt_rank);
  Variable B = ag::transpose(ag::narrow(xdbl, 2, c.dt_rank, c.d_state), 1, 2);
  Variable C = ag::transpose(ag::narrow(xdbl, 2, c.dt_rank + c.d_state, c.d_state), 1, 2);
  Variable delta = ag::transpose(ag::matmul(dt, ag::transpose(m.parameter("dt_proj" + s + ".weight"), 0, 1)), 1, 2);
  Variable A = ag::neg(ag::exp(m.parameter(reverse ? "A_b_log" : "A_log")));
  mamba::ScanOptions o;
  o.delta_softplus = true;
  o.reverse = reverse;
  return mamba::selective_scan_ref(u, delta, A, B, C, m.parameter("D" + s), z, m.parameter("dt_proj" + s + ".bias"), o);
}

Variable ref_mixer(mamba::MambaMixer& m, const Variable& h) {
  const int64_t E = m.config().d_inner;
  Variable xz = ag::transpose(ag::matmul(h, ag::transpose(m.parameter("in_proj.weight"), 0, 1)), 1, 2);  // [b, 2E, L]
  Variable x = ag::narrow(xz, 1, 0, E), z = ag::narrow(xz, 1, E, E);
  Variable o = ref_branch(m, x, z, false);
  if (m.config().bidirectional) o = ag::mul(ag::add(o, ref_branch(m, x, z, true)), 0.5);
  return ag::matmul(ag::transpose(o, 1, 2), ag::transpose(m.parameter("out_proj.weight"), 0, 1));
}

class MixerVsComposite : public ::testing::TestWithParam<bool> {};

TEST_P(MixerVsComposite, OutputAndParameterGradients) {
  tensor::Generator g(3);
  mamba::MambaMixer m(mixer_cfg(GetParam()), &g, DType::Float64);
  // perturb the zero / one inits so every path carries signal
  for (auto& [name, p] : m.named_parameters()) tensor::add_(p.data(), tensor::randn(p.shape(), DType::Float64, &g), 0.1);
  Tensor h = tensor::randn({2, 9, 6}, DType::Float64, &g), w = tensor::randn({2, 9, 6}, DType::Float64, &g);
  auto grads = [&](auto fn) {
    for (auto& p : m.parameters()) p.zero_grad();
    Variable y = fn();
    y.backward(w);
    std::vector<Tensor> out = {y.data()};
    for (auto& p : m.parameters()) out.push_back(p.grad());
    return out;
  };
  auto a = grads([&] { return m.forward(Variable(h)); });
  auto b = grads([&] { return ref_mixer(m, Variable(h)); });
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.size(), GetParam() ? 1u + 16u : 1u + 9u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_LE(rel_err(a[i], b[i]), 1e-11) << i;
}

INSTANTIATE_TEST_SUITE_P(Directions, MixerVsComposite, ::testing::Bool());

// A stand-in adapter: wraps the original Linear and adds `shift` to its output, counting calls.
class ShiftAdapter : public nn::UnaryModule {
 public:
  ShiftAdapter(std::shared_ptr<nn::UnaryModule> inner, double shift) : nn::UnaryModule("ShiftAdapter"), shift_(shift) {
    register_module("base", std::move(inner));
  }
  Variable forward(const Variable& x) override {
    ++calls;
    return ag::add(child<nn::UnaryModule>("base")->forward(x), shift_);
  }
  int calls = 0;

 private:
  double shift_;
};

TEST(MambaMixer, ReplacedProjectorsTakeEffect) {
  for (const char* proj : {"in_proj", "out_proj"}) {
    SCOPED_TRACE(proj);
    tensor::Generator g(4);
    mamba::MambaMixer m(mixer_cfg(true), &g, DType::Float64);
    Tensor h = tensor::randn({1, 5, 6}, DType::Float64, &g);
    Tensor before = m.forward(Variable(h)).data();
    auto adapter = std::make_shared<ShiftAdapter>(m.child<nn::UnaryModule>(proj), 0.25);
    m.replace_child(proj, adapter);
    Tensor after = m.forward(Variable(h)).data();
    EXPECT_EQ(adapter->calls, 1);
    EXPECT_GT(rel_err(after, before), 1e-3);
    // the adapter sees the gradient: in_proj / out_proj weights are reached only through it
    Variable y = m.forward(Variable(h));
    ag::sum(y).backward();
    EXPECT_TRUE(m.parameter(std::string(proj) + ".base.weight").grad().defined());
  }
}

TEST(MambaMixer, ErrorsNameTheShapes) {
  mamba::MambaMixer m(mixer_cfg(false));
  EXPECT_TRUE(pm_test::throws_with([&] { m.forward(Variable(tensor::zeros({2, 5, 7}))); },
                                   {"MambaMixer", "input must be [b, L, 6]", "[2, 5, 7]"}));
  mamba::MambaMixer bi(mixer_cfg(true));
  mamba::LayerState st;
  EXPECT_TRUE(pm_test::throws_with([&] { bi.forward(Variable(tensor::zeros({1, 3, 6})), &st); },
                                   {"bidirectional mixer has no recurrent"}));
  EXPECT_TRUE(pm_test::throws_with([&] { bi.step(tensor::zeros({1, 6}), st); }, {"MambaMixer::step", "bidirectional"}));
  mamba::LayerState s1 = m.new_state(1);
  EXPECT_TRUE(pm_test::throws_with([&] { m.step(tensor::zeros({1, 5}), s1); }, {"MambaMixer::step", "input must be [b, 6]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { m.step(tensor::zeros({2, 6}), s1); }, {"the state does not fit a batch of 2"}));
  auto c = mixer_cfg(false);
  c.d_state = 0;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::MambaMixer bad(c); }, {"MambaMixer", "must be positive"}));
  c = mixer_cfg(false);
  c.dt_init = "x";
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::MambaMixer bad(c); }, {"dt_init must be"}));
}

// ---- MambaLM ---------------------------------------------------------------------------------------------

TEST(MambaLM, PaddedVocabularyTiedHeadAndParameterCount) {
  tensor::Generator g(5);
  mamba::MambaLM lm(mamba_test::tiny_lm(60), &g);
  EXPECT_EQ(lm.parameter("backbone.embeddings.weight").shape(), (Shape{64, 16}));
  EXPECT_TRUE(lm.tied());
  Tensor ids = tensor::randint(0, 60, {2, 7}, &g);
  EXPECT_EQ(lm.forward(ids).shape(), (Shape{2, 7, 60}));  // the 4 padding rows are never predicted
  const int64_t d = 16, E = 32, N = 8, K = 3, R = 3;
  const int64_t per_layer = d + 2 * E * d + E * K + E + (R + 2 * N) * E + E * R + E + E * N + E + d * E;
  EXPECT_EQ(lm.num_parameters(), 64 * d + d + 2 * per_layer);
  EXPECT_EQ(lm.state_dict().count("lm_head.weight"), 1u);
  mamba::MambaConfig c = mamba_test::tiny_lm(64);
  c.tie_embeddings = false;
  mamba::MambaLM untied(c, &g);
  EXPECT_FALSE(untied.tied());
  EXPECT_EQ(untied.num_parameters(), 2 * 64 * d + d + 2 * per_layer);
}

TEST(MambaLM, LossesMatchCrossEntropyOfTheLogits) {
  tensor::Generator g(6);
  mamba::MambaLM lm(mamba_test::tiny_lm(60), &g, DType::Float64);
  Tensor ids = tensor::randint(0, 60, {2, 9}, &g);
  Variable logits = lm.forward(ids);
  Variable want = nn::cross_entropy(ag::narrow(logits, 1, 0, 8), ids.narrow(1, 1, 8).contiguous());
  EXPECT_NEAR(lm.next_token_loss(ids).item<double>(), want.item<double>(), 1e-12);
  Tensor targets = ids.clone();
  targets.select(1, 0).fill_(-100);
  EXPECT_NEAR(lm.loss(ids, targets).item<double>(), nn::cross_entropy(logits, targets).item<double>(), 1e-12);
  // a full training step reaches every parameter
  Variable loss = lm.next_token_loss(ids);
  loss.backward();
  for (auto& [name, p] : lm.named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
}

class DecodeVsForward : public ::testing::TestWithParam<DType> {};

TEST_P(DecodeVsForward, TokenByTokenReproducesTheFullForward) {
  const DType dt = GetParam();
  tensor::Generator g(7);
  mamba::MambaLM lm(mamba_test::tiny_lm(60), &g, dt);
  for (auto& [name, p] : lm.named_parameters()) tensor::add_(p.data(), tensor::randn(p.shape(), dt, &g), 0.05);
  const int64_t b = 2, L = 11;
  Tensor ids = tensor::randint(0, 60, {b, L}, &g);
  Tensor full;
  {
    ag::NoGradGuard ng;
    full = lm.forward(ids).data();  // [b, L, V]
  }
  const double tol = dt == DType::Float64 ? 1e-11 : 1e-4;
  // from an empty cache, one token at a time
  mamba::InferenceCache cache = lm.new_cache(b);
  for (int64_t t = 0; t < L; ++t) {
    Tensor step = lm.step(ids.select(1, t).contiguous(), cache);
    EXPECT_LE(rel_err(step, full.select(1, t)), tol) << "position " << t;
  }
  EXPECT_EQ(cache.seen, L);
  // prefill 2 tokens (shorter than d_conv) or 5, then step
  for (int64_t p : {2, 5}) {
    mamba::InferenceCache c2;
    Tensor last = lm.prefill(ids.narrow(1, 0, p), c2);
    EXPECT_LE(rel_err(last, full.select(1, p - 1)), tol);
    for (int64_t t = p; t < L; ++t)
      EXPECT_LE(rel_err(lm.step(ids.select(1, t).contiguous(), c2), full.select(1, t)), tol) << "prefill " << p << " t " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, DecodeVsForward, ::testing::Values(DType::Float64, DType::Float32));

TEST(MambaLM, Errors) {
  mamba::MambaLM lm(mamba_test::tiny_lm(60));
  EXPECT_TRUE(pm_test::throws_with([&] { lm.forward(tensor::zeros({2, 3})); }, {"MambaLM", "token ids must be int64", "float32"}));
  EXPECT_TRUE(pm_test::throws_with([&] { lm.forward(tensor::zeros({3}, DType::Int64)); }, {"MambaLM", "must be [b, L]", "[3]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { lm.next_token_loss(tensor::zeros({2, 1}, DType::Int64)); },
                                   {"next_token_loss", "at least 2 tokens", "[2, 1]"}));
  mamba::InferenceCache empty;
  EXPECT_TRUE(pm_test::throws_with([&] { lm.step(tensor::zeros({2}, DType::Int64), empty); },
                                   {"MambaLM::step", "the cache has 0 layers, the model 2"}));
  EXPECT_TRUE(pm_test::throws_with([&] { lm.step(tensor::zeros({2, 1}, DType::Int64), empty); }, {"MambaLM::step", "must be [b]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { lm.forward(tensor::full({1, 2}, 64, DType::Int64)); }, {"64"}));
  mamba::MambaConfig c = mamba_test::tiny_lm();
  c.n_layer = 0;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::MambaLM bad(c); }, {"MambaConfig", "n_layer must be positive"}));
}

// ---- initialisation ------------------------------------------------------------------------------------

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector()) m = std::max(m, std::fabs(v));
  return m;
}

double stddev(const Tensor& t) {
  auto v = t.to_vector();
  double s = 0, s2 = 0;
  for (double x : v) s += x, s2 += x * x;
  const double n = static_cast<double>(v.size());
  return std::sqrt(s2 / n - (s / n) * (s / n));
}

TEST(MambaInit, LanguageModelFollowsMambaSSM) {
  mamba::MambaConfig c = mamba_test::tiny_lm(500);
  c.d_model = 64, c.n_layer = 4, c.d_state = 16, c.d_conv = 4, c.dt_rank = 0;
  tensor::Generator g(8);
  mamba::MambaLM lm(c, &g);
  const int64_t E = 128, N = 16, R = 4;
  EXPECT_NEAR(stddev(lm.parameter("backbone.embeddings.weight").data()), 0.02, 0.002);
  EXPECT_TRUE(pm_test::tensors_close(lm.parameter("backbone.norm_f.weight").data(), tensor::ones({64}), 0, 0));
  for (int i = 0; i < 4; ++i) {
    const std::string p = "backbone.layers." + std::to_string(i) + ".mixer.";
    Tensor a_log = lm.parameter(p + "A_log").data();
    for (int64_t n = 0; n < N; ++n) EXPECT_NEAR(a_log.at({5, n}), std::log(n + 1.0), 1e-6);
    EXPECT_TRUE(pm_test::tensors_close(lm.parameter(p + "D").data(), tensor::ones({E}), 0, 0));
    EXPECT_LE(max_abs(lm.parameter(p + "dt_proj.weight").data()), 1.0 / std::sqrt(R) + 1e-6);
    Tensor dt = tensor::softplus(lm.parameter(p + "dt_proj.bias").data());
    for (double v : dt.to_vector()) {
      EXPECT_GE(v, 1e-3 * 0.999);
      EXPECT_LE(v, 0.1 * 1.001);
    }
    EXPECT_LE(max_abs(lm.parameter(p + "out_proj.weight").data()), 1.0 / std::sqrt(E) / 2.0 + 1e-6);  // / sqrt(4 layers)
    EXPECT_GT(max_abs(lm.parameter(p + "out_proj.weight").data()), 1.0 / std::sqrt(E) / 2.0 * 0.9);
    EXPECT_LE(max_abs(lm.parameter(p + "in_proj.weight").data()), 1.0 / std::sqrt(64) + 1e-6);
    EXPECT_LE(max_abs(lm.parameter(p + "conv1d.bias").data()), 0.5 + 1e-6);
    EXPECT_GT(max_abs(lm.parameter(p + "conv1d.bias").data()), 0.3);  // not zeroed: not a Linear
    EXPECT_FALSE(lm.has_parameter(p + "in_proj.bias"));
  }
  // the same seed gives the same model, another seed another
  tensor::Generator g1(8), g2(9);
  mamba::MambaLM same(c, &g1), other(c, &g2);
  EXPECT_TRUE(pm_test::tensors_close(same.parameter("backbone.layers.2.mixer.x_proj.weight").data(),
                                     lm.parameter("backbone.layers.2.mixer.x_proj.weight").data(), 0, 0));
  EXPECT_FALSE(pm_test::tensors_close(other.parameter("backbone.layers.2.mixer.x_proj.weight").data(),
                                      lm.parameter("backbone.layers.2.mixer.x_proj.weight").data(), 0, 0));
}

TEST(MambaInit, Errors) {
  mamba::MambaLM lm(mamba_test::tiny_lm());
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::init_mamba_weights_(lm, 0, nullptr); },
                                   {"init_mamba_weights_", "n_layer must be positive", "0"}));
}

TEST(MambaInit, VisionMambaFollowsVim) {
  mamba::VimConfig c = mamba::vim_preset("vim-test");
  c.embed_dim = 64;
  tensor::Generator g(10);
  mamba::VisionMamba vim(c, &g);
  EXPECT_NEAR(stddev(vim.parameter("pos_embed").data()), 0.02, 0.004);
  EXPECT_NEAR(stddev(vim.parameter("head.weight").data()), 0.02, 0.004);
  EXPECT_EQ(max_abs(vim.parameter("head.bias").data()), 0.0);
  EXPECT_EQ(max_abs(vim.parameter("patch_embed.proj.bias").data()), 0.0);
  const double lecun = std::sqrt(1.0 / (3 * 4 * 4));
  // timm's lecun_normal_: N(0, (sqrt(1/fan_in) / 0.8796)^2), truncated at +-2 (absolute, so hardly at all)
  EXPECT_NEAR(stddev(vim.parameter("patch_embed.proj.weight").data()), lecun / 0.87962566103423978, 0.1 * lecun);
  for (int i = 0; i < 2; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".mixer.";
    EXPECT_EQ(max_abs(vim.parameter(p + "dt_proj_b.bias").data()), 0.0);  // zeroed (no _no_reinit flag)
    EXPECT_GT(max_abs(vim.parameter(p + "dt_proj.bias").data()), 1.0);     // inverse softplus of small dt
    EXPECT_TRUE(pm_test::tensors_close(vim.parameter(p + "A_b_log").data(), vim.parameter(p + "A_log").data(), 0, 0));
    EXPECT_TRUE(pm_test::tensors_close(vim.parameter(p + "D_b").data(), tensor::ones({128}), 0, 0));
    // dt_proj_b keeps nn.Linear's default U(+-1/sqrt(R)) (R = 4)
    EXPECT_LE(max_abs(vim.parameter(p + "dt_proj_b.weight").data()), 0.5 + 1e-6);
  }
}

TEST(MambaPresets, VimParameterCountsMatchTheReleasedModels) {
  EXPECT_EQ(mamba::VisionMamba(mamba::vim_preset("vim-tiny")).num_parameters(), 7148008);
  EXPECT_EQ(mamba::VisionMamba(mamba::vim_preset("vim-tiny-stride8")).num_parameters(), 7250344);
}

// ---- VisionMamba ---------------------------------------------------------------------------------------

TEST(VisionMamba, ShapesAndNormalisation) {
  tensor::Generator g(11);
  mamba::VisionMamba vim(mamba::vim_preset("vim-test"), &g);
  Tensor img = tensor::rand({3, 3, 16, 16}, DType::Float32, &g);
  Tensor x = vim.normalize(img);
  EXPECT_NEAR(x.at({1, 2, 3, 4}), (img.at({1, 2, 3, 4}) - 0.406) / 0.225, 1e-5);
  EXPECT_EQ(vim.forward(Variable(x)).shape(), (Shape{3, 5}));
  EXPECT_EQ(vim.features(Variable(x)).shape(), (Shape{3, 16}));
  EXPECT_TRUE(pm_test::throws_with([&] { vim.forward(Variable(tensor::zeros({1, 3, 8, 8}))); },
                                   {"VisionMamba", "images must be [B, 3, 16, 16]", "[1, 3, 8, 8]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { vim.normalize(tensor::zeros({1, 1, 4, 4})); },
                                   {"VisionMamba::normalize", "[B, 3, H, W]"}));
  // the class token first instead of in the middle
  mamba::VimConfig c = mamba::vim_preset("vim-test");
  c.use_middle_cls_token = false;
  mamba::VisionMamba front(c, &g);
  EXPECT_EQ(front.forward(Variable(x)).shape(), (Shape{3, 5}));
}

TEST(VisionMamba, StochasticDepthOnlyInTraining) {
  mamba::VimConfig c = mamba::vim_preset("vim-test");
  c.drop_path_rate = 0.5;
  c.depth = 4;
  tensor::Generator g(12);
  mamba::VisionMamba vim(c, &g);
  EXPECT_DOUBLE_EQ(vim.child<nn::ModuleList>("layers")->at<mamba::MambaBlock>(0)->drop_path_rate(), 0.0);
  EXPECT_DOUBLE_EQ(vim.child<nn::ModuleList>("layers")->at<mamba::MambaBlock>(1)->drop_path_rate(), 0.0);
  EXPECT_DOUBLE_EQ(vim.child<nn::ModuleList>("layers")->at<mamba::MambaBlock>(3)->drop_path_rate(), 0.5 * 2 / 3);
  Tensor x = tensor::randn({4, 3, 16, 16}, DType::Float32, &g);
  vim.eval();
  Tensor a = vim.forward(Variable(x)).data(), b = vim.forward(Variable(x)).data();
  EXPECT_TRUE(pm_test::tensors_close(a, b, 0, 0));
  vim.train();
  Tensor t1 = vim.forward(Variable(x)).data(), t2 = vim.forward(Variable(x)).data();
  EXPECT_FALSE(pm_test::tensors_close(t1, t2, 0, 0));
}

TEST(DropPath, ZeroesOrScalesWholeSamples) {
  tensor::Generator g(13);
  Tensor x = tensor::ones({64, 3, 2});
  Tensor y = mamba::drop_path(Variable(x), 0.25, true, &g).data();
  int dropped = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const double v = y.at({i, 0, 0});
    EXPECT_TRUE(v == 0.0 || std::fabs(v - 1 / 0.75) < 1e-6);
    EXPECT_EQ(y.at({i, 2, 1}), v);
    dropped += v == 0.0;
  }
  EXPECT_GT(dropped, 4);
  EXPECT_LT(dropped, 30);
  EXPECT_TRUE(pm_test::tensors_close(mamba::drop_path(Variable(x), 0.25, false, &g).data(), x, 0, 0));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::drop_path(Variable(x), 1.0, true, &g); }, {"drop_path", "p must be < 1"}));
}

}  // namespace
