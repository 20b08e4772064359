// optim_test.cpp: SGD and AdamW parameter trajectories against torch.optim (fixtures), parameter
// groups and the decay/no-decay split, zero_grad, lr setting, optimizer state save/load (including
// resuming mid-run bit for bit), gradient clipping against torch.nn.utils.clip_grad_norm_, and every
// error message.
#include <cmath>

#include "autograd/ops.h"
#include "fixtures.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/optim/adamw.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/param_groups.h"
#include "nn/optim/sgd.h"

namespace {

using autograd::Variable;
using nn_test::optim;
using pm_test::tensors_close;
using pm_test::throws_with;
using tensor::DType;
using tensor::Tensor;
namespace op = nn::optim;

constexpr double kRtol = 1e-11, kAtol = 1e-13;

// Builds the optimizer a fixture case describes ("groups" of parameter indices with hyperparameters).
std::unique_ptr<op::Optimizer> make_optimizer(const std::string& kind, const nlohmann::json& opts,
                                              const std::vector<Variable>& ps) {
  std::vector<op::ParamGroup> groups;
  for (const auto& g : opts["groups"]) {
    op::ParamGroup pg;
    for (int j : g["params"]) {
      pg.params.push_back(ps[j]);
      pg.names.push_back("p" + std::to_string(j));
    }
    pg.lr = g["lr"].get<double>();
    pg.weight_decay = g["weight_decay"].get<double>();
    if (kind == "sgd") {
      pg.options = {{"momentum", g["momentum"].get<double>()},
                    {"dampening", g["dampening"].get<double>()},
                    {"nesterov", g["nesterov"].get<bool>() ? 1.0 : 0.0}};
    } else {
      pg.options = {{"beta1", g["beta1"].get<double>()}, {"beta2", g["beta2"].get<double>()}, {"eps", g["eps"].get<double>()}};
    }
    groups.push_back(pg);
  }
  if (kind == "sgd") return std::make_unique<op::SGD>(groups);
  return std::make_unique<op::AdamW>(groups);
}

// Replays a fixture case: same initial parameters and per-step gradients, compares every step.
void replay(const std::string& c, const std::string& kind, const std::vector<std::string>& buffers) {
  auto opts = optim().options(c);
  const int steps = opts["steps"];
  std::vector<Variable> ps;
  for (int j = 0; optim().contains(c + ".p" + std::to_string(j) + ".0"); ++j)
    ps.emplace_back(optim()[c + ".p" + std::to_string(j) + ".0"], true);
  ASSERT_FALSE(ps.empty()) << c;
  auto opt = make_optimizer(kind, opts, ps);
  for (int t = 0; t < steps; ++t) {
    opt->zero_grad();
    for (size_t j = 0; j < ps.size(); ++j) {
      std::string g = c + ".p" + std::to_string(j) + ".grad." + std::to_string(t);
      if (optim().contains(g)) ps[j].set_grad(optim()[g]);
    }
    opt->step();
    for (size_t j = 0; j < ps.size(); ++j)
      EXPECT_TRUE(tensors_close(ps[j].data(), optim()[c + ".p" + std::to_string(j) + "." + std::to_string(t + 1)],
                                kRtol, kAtol))
          << c << " p" << j << " after step " << t + 1;
  }
  EXPECT_EQ(opt->step_count(), steps);
  auto sd = opt->state_dict();
  for (size_t j = 0; j < ps.size(); ++j)
    for (const auto& b : buffers) {
      std::string key = "state.p" + std::to_string(j) + "." + b;
      ASSERT_TRUE(sd.count(key)) << key;
      EXPECT_TRUE(tensors_close(sd[key], optim()[c + ".p" + std::to_string(j) + "." + b], kRtol, kAtol)) << c << " " << key;
    }
}

TEST(SGD, NesterovMomentumWeightDecayMatchesPyTorch) { replay("sgd.nesterov", "sgd", {"momentum_buffer"}); }
TEST(SGD, MomentumWithDampeningMatchesPyTorch) { replay("sgd.momentum", "sgd", {"momentum_buffer"}); }
TEST(SGD, PlainWithWeightDecayMatchesPyTorch) { replay("sgd.plain", "sgd", {}); }
TEST(AdamW, TwoGroupsMatchPyTorch) { replay("adamw", "adamw", {"exp_avg", "exp_avg_sq"}); }
TEST(AdamW, ParameterSkippedInAStepKeepsItsOwnStepCount) {
  replay("adamw.sparse", "adamw", {"exp_avg", "exp_avg_sq"});
}

TEST(AdamW, Float32FollowsFloat64) {
  // The same trajectory in float32 stays within float rounding of the float64 one.
  std::vector<Variable> p64{Variable(optim()["adamw.p0.0"], true)};
  std::vector<Variable> p32{Variable(optim()["adamw.p0.0"].to(DType::Float32), true)};
  op::AdamWOptions o;
  o.lr = 0.01;
  o.weight_decay = 0.1;
  op::AdamW a(p64, o), b(p32, o);
  for (int t = 0; t < 5; ++t) {
    Tensor g = optim()["adamw.p0.grad." + std::to_string(t)];
    p64[0].set_grad(g);
    p32[0].set_grad(g.to(DType::Float32));
    a.step();
    b.step();
  }
  EXPECT_TRUE(tensors_close(p32[0].data(), p64[0].data(), 1e-5, 1e-6));
}

TEST(ClipGrad, GlobalNormsMatchPyTorch) {
  for (std::string norm : {"2", "inf"}) {
    auto opts = optim().options("clip." + norm);
    std::vector<Variable> ps;
    for (int j = 0; j < 2; ++j) {
      Tensor g = optim()["clip." + norm + ".g" + std::to_string(j)];
      ps.emplace_back(tensor::zeros_like(g), true);
      ps.back().set_grad(g.clone());
    }
    ps.emplace_back(tensor::zeros({3}, DType::Float64), true);  // no gradient: skipped
    const double type = norm == "inf" ? INFINITY : 2.0;
    double total = op::clip_grad_norm(ps, opts["max_norm"].get<double>(), type);
    EXPECT_NEAR(total, optim()["clip." + norm + ".total"].at({0}), 1e-12) << norm;
    for (int j = 0; j < 2; ++j)
      EXPECT_TRUE(tensors_close(ps[j].grad(), optim()["clip." + norm + ".clipped" + std::to_string(j)], 1e-12, 1e-14))
          << norm;
    EXPECT_FALSE(ps[2].grad().defined());
  }
}

TEST(ClipGrad, SmallNormsAreLeftAloneAndOtherNormTypes) {
  Variable p(tensor::zeros({2}, DType::Float64), true);
  p.set_grad(tensor::from_vector<double>({3, -4}, {2}));
  EXPECT_DOUBLE_EQ(op::clip_grad_norm({p}, 10.0), 5.0);
  EXPECT_EQ(p.grad().to_vector(), (std::vector<double>{3, -4}));
  EXPECT_NEAR(op::grad_norm({p}, 1.0), 7.0, 1e-12);
  EXPECT_NEAR(op::grad_norm({p}, 3.0), std::cbrt(27.0 + 64.0), 1e-12);
  EXPECT_EQ(op::grad_norm({Variable(tensor::zeros({2}), true)}), 0.0);
  op::clip_grad_norm({p}, 1.0, 1.0);
  EXPECT_NEAR(std::fabs(p.grad().at({0})) + std::fabs(p.grad().at({1})), 1.0, 1e-6);
}

// Gradients of mixed dtypes, an empty one and a missing one: combined in float64, the empty and
// missing ones contributing nothing, for every norm type.
TEST(ClipGrad, MixedDtypesEmptyAndMissingGradients) {
  Variable a(tensor::zeros({2}, DType::Float32), true), b(tensor::zeros({1}, DType::Float64), true);
  Variable e(tensor::zeros({0}, DType::Float32), true), none(tensor::zeros({3}), true);
  a.set_grad(tensor::from_vector<float>({3, -4}, {2}));
  b.set_grad(tensor::from_vector<double>({12}, {1}));
  e.set_grad(tensor::zeros({0}, DType::Float32));
  EXPECT_NEAR(op::grad_norm({a, e, b, none}), 13.0, 1e-12);
  EXPECT_NEAR(op::grad_norm({e, b, a}, 1.0), 19.0, 1e-12);
  EXPECT_EQ(op::grad_norm({a, b, e}, INFINITY), 12.0);
  EXPECT_EQ(op::grad_norm({e, none}), 0.0);
}

TEST(ClipGrad, Errors) {
  Variable p(tensor::zeros({2}, DType::Float64), true);
  p.set_grad(tensor::from_vector<double>({NAN, 1}, {2}));
  EXPECT_TRUE(throws_with([&] { op::clip_grad_norm({p}, 1.0, 2.0, true); },
                          {"clip_grad_norm: the total norm of the gradients is nan (non-finite)"}));
  EXPECT_TRUE(std::isnan(p.grad().at({0})));
  EXPECT_TRUE(throws_with([&] { op::clip_grad_norm({p}, -1.0); }, {"clip_grad_norm: max_norm must be >= 0, got -1"}));
  EXPECT_TRUE(throws_with([&] { op::grad_norm({p}, 0.5); }, {"grad_norm: norm_type must be >= 1"}));
}

// ---- groups ------------------------------------------------------------------------------------------

struct Tiny : nn::Module {
  Tiny() : Module("Tiny") {
    register_module("in_proj", std::make_shared<nn::Linear>(4, 8));
    register_module("norm", std::make_shared<nn::RMSNorm>(8));
    register_parameter("A_log", tensor::zeros({8, 2}));
    register_parameter("D", tensor::ones({8}));
    register_module("dt_proj", std::make_shared<nn::Linear>(2, 8));
    register_parameter("frozen", tensor::zeros({3, 3}), false);
  }
};

std::vector<std::string> group_names(const op::ParamGroup& g) { return g.names; }

TEST(ParamGroups, SplitDecayPutsNormsBiasesDAndDtBiasInTheNoDecayGroup) {
  Tiny m;
  auto groups = op::split_decay(m.named_parameters(), 0.05);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(group_names(groups[0]), (std::vector<std::string>{"in_proj.weight", "dt_proj.weight"}));
  EXPECT_EQ(group_names(groups[1]),
            (std::vector<std::string>{"A_log", "D", "in_proj.bias", "norm.weight", "dt_proj.bias"}));
  EXPECT_EQ(*groups[0].weight_decay, 0.05);
  EXPECT_EQ(*groups[1].weight_decay, 0.0);
  op::AdamWOptions o;
  o.weight_decay = 0.3;  // the groups' own values win over the default
  op::AdamW opt(groups, o);
  EXPECT_EQ(*opt.param_groups()[0].weight_decay, 0.05);
  EXPECT_EQ(*opt.param_groups()[1].weight_decay, 0.0);
  EXPECT_EQ(*opt.param_groups()[1].lr, 1e-3);
  EXPECT_EQ(opt.param_groups()[1].options.at("beta2"), 0.999);
}

TEST(ParamGroups, CustomPredicates) {
  Tiny m;
  auto groups = op::split_decay(m.named_parameters(), 0.1,
                                op::any_of({op::name_ends_with({".bias"}), op::name_contains({"norm"})}));
  EXPECT_EQ(group_names(groups[0]), (std::vector<std::string>{"A_log", "D", "in_proj.weight", "dt_proj.weight"}));
  EXPECT_EQ(group_names(groups[1]), (std::vector<std::string>{"in_proj.bias", "norm.weight", "dt_proj.bias"}));
  auto g = op::make_group(m.named_trainable_parameters(), 0.5, 0.0);
  EXPECT_EQ(g.params.size(), 7u);
  EXPECT_EQ(*g.lr, 0.5);
}

TEST(Optimizer, ZeroGradAndSkippingParamsWithoutGrad) {
  Variable a(tensor::ones({2}), true), b(tensor::ones({2}), true);
  op::SGD opt({a, b}, {});
  a.set_grad(tensor::ones({2}));
  opt.step();
  EXPECT_FLOAT_EQ(a.data().at({0}), 0.99f);
  EXPECT_FLOAT_EQ(a.data().at({1}), 0.99f);
  EXPECT_EQ(b.data().to_vector(), (std::vector<double>{1, 1}));
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  auto sd = opt.state_dict();
  EXPECT_TRUE(sd.count("state.0.0.step"));
  EXPECT_FALSE(sd.count("state.0.1.step"));  // never updated: no state
}

TEST(Optimizer, UpdatesRecordNoGraph) {
  Variable a(tensor::ones({2}), true);
  op::AdamW opt({a}, {});
  a.set_grad(tensor::ones({2}));
  opt.step();
  EXPECT_TRUE(a.is_leaf());
  EXPECT_TRUE(a.requires_grad());
}

TEST(Optimizer, SetLrAndFactorPerGroup) {
  Variable a(tensor::ones({2}), true), b(tensor::ones({2}), true);
  op::ParamGroup g1, g2;
  g1.params = {a};
  g2.params = {b};
  g2.lr = 0.5;
  op::SGD opt({g1, g2}, {});
  opt.set_lr_factor(0.1);
  EXPECT_DOUBLE_EQ(*opt.param_groups()[0].lr, 0.01 * 0.1);
  EXPECT_DOUBLE_EQ(*opt.param_groups()[1].lr, 0.5 * 0.1);
  opt.set_lr(0.2);
  EXPECT_EQ(*opt.param_groups()[1].lr, 0.2);
  EXPECT_EQ(opt.param_groups()[1].initial_lr, 0.5);
  EXPECT_TRUE(throws_with([&] { opt.set_lr(-1); }, {"SGD::set_lr: lr must be >= 0, got -1"}));
  EXPECT_TRUE(throws_with([&] { opt.set_lr_factor(-1); }, {"SGD::set_lr_factor: factor must be >= 0, got -1"}));
}

// Runs `steps` AdamW updates of a small regression on parameters `ps` starting at `from`.
void adamw_steps(op::Optimizer& opt, const std::vector<Variable>& ps, int from, int steps) {
  for (int t = from; t < from + steps; ++t) {
    tensor::Generator g(100 + t);
    Tensor x = tensor::randn({8, 3}, DType::Float32, &g);
    Variable y = autograd::matmul(Variable(x), ps[0]);
    Variable loss = autograd::mean(autograd::square(autograd::add(y, ps[1])));
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
}

TEST(Optimizer, StateDictResumesBitForBit) {
  auto fresh = [] {
    return std::vector<Variable>{Variable(tensor::full({3, 2}, 0.5), true), Variable(tensor::full({2}, -0.2), true)};
  };
  op::AdamWOptions o;
  o.lr = 0.05;
  // Uninterrupted: 6 steps.
  auto p1 = fresh();
  op::AdamW a(p1, o);
  adamw_steps(a, p1, 0, 6);
  // Interrupted after 3: copy parameters and optimizer state into fresh objects, continue.
  auto p2 = fresh();
  op::AdamW b(p2, o);
  adamw_steps(b, p2, 0, 3);
  std::map<std::string, Tensor> saved;
  for (auto& [k, t] : b.state_dict()) saved[k] = t.clone();
  auto p3 = fresh();
  for (size_t i = 0; i < p3.size(); ++i) p3[i].data().copy_(p2[i].data());
  op::AdamW c(p3, op::AdamWOptions{});  // different defaults: load restores the saved hyperparameters
  c.load_state_dict(saved);
  EXPECT_EQ(c.step_count(), 3);
  EXPECT_EQ(*c.param_groups()[0].lr, 0.05);
  adamw_steps(c, p3, 3, 3);
  for (size_t i = 0; i < p1.size(); ++i) EXPECT_EQ(p3[i].data().to_vector(), p1[i].data().to_vector());
}

TEST(Optimizer, LoadStateDictErrorsLeaveStateUntouched) {
  Variable a(tensor::ones({2, 2}), true);
  op::ParamGroup g;
  g.params = {a};
  g.names = {"w"};
  op::SGD opt({g}, op::SGDOptions{0.1, 0.9});
  a.set_grad(tensor::ones({2, 2}));
  opt.step();
  auto good = opt.state_dict();
  for (auto& [k, t] : good) t = t.clone();

  auto bad = good;
  bad.erase("state.w.momentum_buffer");
  bad.erase("group.0.lr");
  bad["state.v.step"] = tensor::from_vector<int64_t>({1}, {1});
  bad["group.0.momentum"] = tensor::from_vector<double>({0.5, 0.5}, {2});
  EXPECT_TRUE(throws_with([&] { opt.load_state_dict(bad); },
                          {"SGD::load_state_dict: the state does not match this optimizer",
                           "missing keys: [group.0.lr, state.w.momentum_buffer]", "unexpected keys: [state.v.step]",
                           "bad values: [group.0.momentum: expected 1 element, got shape [2]]"}));
  bad = good;
  bad["state.w.momentum_buffer"] = tensor::zeros({4});
  EXPECT_TRUE(throws_with([&] { opt.load_state_dict(bad); },
                          {"bad values: [state.w.momentum_buffer: parameter [2, 2], given [4]]"}));
  bad = good;
  bad["group.0.nesterov"] = tensor::from_vector<double>({1}, {1});
  bad["group.0.dampening"] = tensor::from_vector<double>({0.5}, {1});
  EXPECT_TRUE(throws_with([&] { opt.load_state_dict(bad); },
                          {"SGD: nesterov needs momentum > 0 and dampening 0, got momentum 0.9 and dampening 0.5 in group 0"}));
  EXPECT_EQ(opt.param_groups()[0].options.at("nesterov"), 0.0);  // unchanged
  EXPECT_EQ(opt.step_count(), 1);
  opt.load_state_dict(good);
  EXPECT_EQ(opt.step_count(), 1);
}

TEST(Optimizer, ConstructionErrors) {
  Variable a(tensor::ones({2}), true);
  Variable i(tensor::ones({2}, DType::Int64));
  EXPECT_TRUE(throws_with([] { op::SGD(std::vector<Variable>{}); }, {"SGD: got an empty parameter list"}));
  EXPECT_TRUE(throws_with([&] { op::SGD({a, a}); }, {"SGD: parameter '0.1' appears more than once in the groups"}));
  EXPECT_TRUE(throws_with([&] { op::AdamW({i}); },
                          {"AdamW: parameter '0.0' is int64; only float parameters can be optimized"}));
  EXPECT_TRUE(throws_with([&] { op::AdamW({Variable()}); }, {"AdamW: parameter '0.0' is undefined"}));
  op::ParamGroup g;
  g.params = {a};
  g.options = {{"betas", 0.9}};
  EXPECT_TRUE(throws_with([&] { op::AdamW({g}); },
                          {"AdamW: unknown option 'betas' in group 0 (known: beta1, beta2, eps)"}));
  g.options.clear();
  g.names = {"x", "y"};
  EXPECT_TRUE(throws_with([&] { op::SGD({g}); }, {"SGD: group 0 has 1 parameters but 2 names"}));
  Variable b(tensor::ones({2}), true);
  op::ParamGroup h;
  h.params = {a, b};
  h.names = {"x", "x"};
  EXPECT_TRUE(throws_with([&] { op::SGD({h}); }, {"SGD: two parameters are named 'x'"}));

  EXPECT_TRUE(throws_with([&] { op::SGD({a}, op::SGDOptions{-0.1}); }, {"SGD: lr must be >= 0, got -0.1 in group 0"}));
  op::SGDOptions s;
  s.weight_decay = -1;
  EXPECT_TRUE(throws_with([&] { op::SGD({a}, s); }, {"SGD: weight_decay must be >= 0, got -1 in group 0"}));
  s = {};
  s.momentum = -0.5;
  EXPECT_TRUE(throws_with([&] { op::SGD({a}, s); }, {"SGD: momentum must be >= 0, got -0.5 in group 0"}));
  s = {};
  s.nesterov = true;
  EXPECT_TRUE(throws_with([&] { op::SGD({a}, s); }, {"SGD: nesterov needs momentum > 0 and dampening 0"}));
  g.names.clear();
  g.options = {{"nesterov", 2}};
  EXPECT_TRUE(throws_with([&] { op::SGD({g}); }, {"SGD: nesterov must be 0 or 1, got 2 in group 0"}));
  op::AdamWOptions w;
  w.beta1 = 1.0;
  EXPECT_TRUE(throws_with([&] { op::AdamW({a}, w); }, {"AdamW: beta1 must be in [0, 1), got 1 in group 0"}));
  w = {};
  w.beta2 = -0.1;
  EXPECT_TRUE(throws_with([&] { op::AdamW({a}, w); }, {"AdamW: beta2 must be in [0, 1), got -0.1 in group 0"}));
  w = {};
  w.eps = -1e-8;
  EXPECT_TRUE(throws_with([&] { op::AdamW({a}, w); }, {"AdamW: eps must be >= 0, got -1e-08 in group 0"}));
}

}  // namespace
