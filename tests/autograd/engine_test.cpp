// engine_test.cpp: the backward engine: known gradients, accumulation, shared subgraphs,
// retain_graph, NoGradGuard, detach, long chains, and every error message.
#include <gtest/gtest.h>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "common/test_util.h"

namespace {
using autograd::Variable;
using tensor::DType;
using tensor::Tensor;

Tensor vec(std::vector<double> v) { return tensor::from_vector(v, {static_cast<int64_t>(v.size())}); }

TEST(Engine, KnownGradientsOfASmallExpression) {
  Variable a(vec({1, 2, 3}), true), b(vec({4, 5, 6}), true);
  Variable loss = autograd::sum(a * b + a * a);  // d/da = b + 2a, d/db = a
  loss.backward();
  EXPECT_DOUBLE_EQ(loss.item<double>(), 4 + 10 + 18 + 1 + 4 + 9);
  EXPECT_TRUE(pm_test::tensors_close(a.grad(), vec({6, 9, 12})));
  EXPECT_TRUE(pm_test::tensors_close(b.grad(), vec({1, 2, 3})));
}

TEST(Engine, DiamondSumsBothPaths) {
  Variable x(vec({2}), true);
  Variable y = autograd::exp(x);
  Variable z = y * y + y;  // dz/dx = (2y + 1) y
  autograd::sum(z).backward();
  double e = std::exp(2.0);
  EXPECT_NEAR(x.grad().item<double>(), (2 * e + 1) * e, 1e-9);
}

TEST(Engine, LeafGradientsAccumulateAcrossBackwardCalls) {
  Variable x(vec({1, 2}), true);
  autograd::sum(x * 3.0).backward();
  autograd::sum(x * 2.0).backward();
  EXPECT_TRUE(pm_test::tensors_close(x.grad(), vec({5, 5})));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

// Leaves keep the engine's fresh gradient tensor instead of a copy only when nothing else holds it:
// two leaves fed the same tensor (a + b hands g to both) and a user-given root gradient must not
// end up sharing storage with anything.
TEST(Engine, LeafGradientsNeverShareStorage) {
  Variable a(vec({1, 2}), true), b(vec({3, 4}), true);
  Tensor g = vec({10, 20});
  (a + b).backward(g);
  EXPECT_NE(a.grad().storage(), b.grad().storage());
  EXPECT_NE(a.grad().storage(), g.storage());
  EXPECT_NE(b.grad().storage(), g.storage());
  tensor::add_(a.grad(), vec({1, 1}));  // writing one gradient leaves the other and g alone
  EXPECT_TRUE(pm_test::tensors_close(b.grad(), vec({10, 20})));
  EXPECT_TRUE(pm_test::tensors_close(g, vec({10, 20})));
  Variable c(vec({1, 2}), true);
  c.backward(g);  // a leaf as the root: its gradient is a copy of the caller's
  EXPECT_NE(c.grad().storage(), g.storage());
  Variable d(vec({5, 6}), true);
  autograd::sum(d * d).backward();  // the usual case: the fresh product is kept as it is
  EXPECT_TRUE(pm_test::tensors_close(d.grad(), vec({10, 12})));
  autograd::sum(d * d).backward();  // and accumulates in place on the next backward
  EXPECT_TRUE(pm_test::tensors_close(d.grad(), vec({20, 24})));
}

TEST(Engine, GradientOfBroadcastInputIsSummed) {
  Variable a(tensor::ones({2, 3}, DType::Float64), true), b(tensor::ones({3}, DType::Float64), true);
  autograd::sum(a * b).backward();
  EXPECT_TRUE(pm_test::tensors_close(b.grad(), vec({2, 2, 2})));
}

TEST(Engine, FrozenInputsGetNoGradient) {
  Variable w(vec({1, 2}), true), frozen(vec({3, 4}), false);
  autograd::sum(w * frozen).backward();
  EXPECT_TRUE(w.grad().defined());
  EXPECT_FALSE(frozen.grad().defined());
}

TEST(Engine, BranchThatReceivesNoGradientStillReleasesItsInputs) {
  // An op that passes no gradient to its input (like an integer cast): the subgraph below it gets
  // nothing, yet x must still receive the gradient of its other use.
  struct Blocks final : autograd::Node {
    const char* name() const override { return "blocks"; }
    std::vector<Tensor> backward(const Tensor&) override { return {Tensor()}; }
  };
  Variable x(vec({1, 2}), true);
  Variable h = x * 2.0;
  Variable blocked = autograd::record(tensor::sum(h.data()), std::make_shared<Blocks>(), {h});
  Variable total = blocked + autograd::sum(x * 5.0);
  total.backward();
  EXPECT_TRUE(pm_test::tensors_close(x.grad(), vec({5, 5})));
}

TEST(Engine, SecondBackwardWithoutRetainGraphThrows) {
  Variable x(vec({1, 2}), true);
  Variable y = autograd::sum(autograd::exp(x));
  y.backward();
  EXPECT_TRUE(pm_test::throws_with([&] { y.backward(); }, {"freed", "retain_graph"}));
}

TEST(Engine, RetainGraphAllowsASecondBackward) {
  Variable x(vec({1, 2}), true);
  Variable y = autograd::sum(autograd::exp(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_TRUE(pm_test::tensors_close(x.grad(), tensor::mul(tensor::exp(vec({1, 2})), 2.0)));
}

TEST(Engine, NoGradGuardRecordsNothing) {
  Variable x(vec({1, 2}), true);
  {
    autograd::NoGradGuard guard;
    Variable y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_FALSE(y.grad_fn());
  }
  EXPECT_TRUE((x * 2.0).requires_grad());
}

TEST(Engine, DetachCutsTheGraph) {
  Variable x(vec({3}), true);
  Variable y = (x * x).detach();
  EXPECT_FALSE(y.requires_grad());
  Variable z = autograd::sum(y * x);  // only the direct use of x counts
  z.backward();
  EXPECT_NEAR(x.grad().item<double>(), 9.0, 1e-12);
}

TEST(Engine, TenThousandNodeChainRunsWithoutRecursion) {
  Variable x(vec({1.0}), true);
  Variable y = x;
  for (int i = 0; i < 10000; ++i) y = y * 1.0001;
  y.backward();
  EXPECT_NEAR(x.grad().item<double>(), std::pow(1.0001, 10000), 1e-6);
}

TEST(Engine, DestroyingAHundredThousandNodeChainDoesNotOverflowTheStack) {
  Variable x(vec({1.0}), true);
  Variable y = x;
  for (int i = 0; i < 100000; ++i) y = y + 1.0;
  y = Variable();  // drops the whole chain
  SUCCEED();
}

TEST(Engine, GradientDefaultsToOneOnlyForScalars) {
  Variable x(vec({1, 2}), true);
  Variable y = x * 2.0;
  EXPECT_TRUE(pm_test::throws_with([&] { y.backward(); }, {"backward", "[2]"}));
  y.backward(vec({1, 10}));
  EXPECT_TRUE(pm_test::tensors_close(x.grad(), vec({2, 20})));
}

TEST(Engine, ErrorsNameWhatIsWrong) {
  Variable c(vec({1, 2}), false);
  EXPECT_TRUE(pm_test::throws_with([&] { autograd::sum(c).backward(); }, {"backward", "does not require grad"}));
  Variable x(vec({1, 2}), true);
  EXPECT_TRUE(pm_test::throws_with([&] { (x * 2.0).backward(vec({1, 2, 3})); }, {"backward", "[3]", "[2]"}));
  Variable idx(tensor::arange(3), false);
  EXPECT_TRUE(pm_test::throws_with([&] { idx.set_requires_grad(true); }, {"set_requires_grad", "int64"}));
  Variable y = x * 2.0;
  EXPECT_TRUE(pm_test::throws_with([&] { y.set_requires_grad(false); }, {"set_requires_grad", "leaf"}));
}

TEST(Engine, SavedTensorsAreFreedAfterBackward) {
  Variable x(tensor::ones({1000}, DType::Float64), true);
  Variable y = autograd::exp(x);
  std::weak_ptr<tensor::Storage> saved = y.data().storage();  // exp saves its output
  Variable loss = autograd::sum(y);
  y = Variable();
  EXPECT_FALSE(saved.expired());
  loss.backward();
  EXPECT_TRUE(saved.expired());
}

TEST(Gradcheck, DetectsAWrongGradient) {
  // A deliberately wrong op: forward x^2, backward claims 3x.
  struct WrongSquare final : autograd::Node {
    Tensor x;
    const char* name() const override { return "wrong_square"; }
    std::vector<Tensor> backward(const Tensor& g) override { return {tensor::mul(tensor::mul(g, x), 3.0)}; }
  };
  auto f = [](const std::vector<Variable>& v) {
    auto n = std::make_shared<WrongSquare>();
    n->x = v[0].data();
    return autograd::record(tensor::square(v[0].data()), n, {v[0]});
  };
  auto r = autograd::gradcheck(f, {tensor::from_vector<double>({1.0, -2.0}, {2})});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("analytical"), std::string::npos);
  auto ok = autograd::gradcheck([](const std::vector<Variable>& v) { return autograd::square(v[0]); },
                                {tensor::from_vector<double>({1.0, -2.0}, {2})});
  EXPECT_TRUE(ok.ok) << ok.message;
}

}  // namespace
