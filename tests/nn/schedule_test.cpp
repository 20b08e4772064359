// schedule_test.cpp: the learning-rate schedules' values at chosen steps, their JSON round trip,
// factor() with Optimizer::set_lr_factor, and argument errors.
#include "nn/optim/schedule.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/test_util.h"

namespace {

using pm_test::throws_with;
namespace op = nn::optim;

TEST(Schedule, Constant) {
  EXPECT_EQ(op::constant_lr(0, 0.1), 0.1);
  EXPECT_EQ(op::constant_lr(1000000, 0.1), 0.1);
  EXPECT_EQ(op::Schedule::constant(0.3).lr(17), 0.3);
}

TEST(Schedule, WarmupThenCosineToTheFloor) {
  const double base = 1.0, floor = 0.1;
  // 4 warm-up steps: 0.25, 0.5, 0.75, 1.0
  for (int s = 0; s < 4; ++s) EXPECT_DOUBLE_EQ(op::warmup_cosine_lr(s, base, 4, 14, floor), (s + 1) / 4.0);
  EXPECT_DOUBLE_EQ(op::warmup_cosine_lr(4, base, 4, 14, floor), 1.0);          // cosine starts at the top
  EXPECT_DOUBLE_EQ(op::warmup_cosine_lr(9, base, 4, 14, floor), 0.55);         // halfway: (base + floor) / 2
  EXPECT_NEAR(op::warmup_cosine_lr(13, base, 4, 14, floor), floor + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.9)), 1e-15);
  EXPECT_DOUBLE_EQ(op::warmup_cosine_lr(14, base, 4, 14, floor), floor);
  EXPECT_DOUBLE_EQ(op::warmup_cosine_lr(1000, base, 4, 14, floor), floor);
  // No warm-up.
  EXPECT_DOUBLE_EQ(op::warmup_cosine_lr(0, 0.5, 0, 10), 0.5);
  // Monotone after warm-up.
  for (int s = 4; s < 20; ++s)
    EXPECT_LE(op::warmup_cosine_lr(s + 1, base, 4, 14, floor), op::warmup_cosine_lr(s, base, 4, 14, floor));
}

TEST(Schedule, StepDecay) {
  EXPECT_DOUBLE_EQ(op::step_decay_lr(0, 1.0, 10, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(op::step_decay_lr(9, 1.0, 10, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(op::step_decay_lr(10, 1.0, 10, 0.5), 0.5);
  EXPECT_DOUBLE_EQ(op::step_decay_lr(35, 1.0, 10, 0.5), 0.125);
}

TEST(Schedule, JsonRoundTripAndFactor) {
  for (const auto& s : {op::Schedule::constant(0.2), op::Schedule::warmup_cosine(0.2, 5, 50, 0.01),
                        op::Schedule::step_decay(0.2, 7, 0.3)}) {
    op::Schedule back = op::Schedule::from_json(nlohmann::json::parse(s.to_json().dump()));
    EXPECT_EQ(back.name(), s.name());
    for (int step : {0, 3, 6, 20, 49, 50, 80}) EXPECT_EQ(back.lr(step), s.lr(step)) << s.name() << " " << step;
    EXPECT_DOUBLE_EQ(s.factor(6), s.lr(6) / 0.2);
  }
  EXPECT_EQ(op::Schedule::constant(0.0).factor(3), 1.0);
  EXPECT_EQ(op::Schedule::warmup_cosine(1e-3, 2, 10).to_json().dump(),
            R"({"base_lr":0.001,"kind":"warmup_cosine","min_lr":0.0,"total_steps":10,"warmup_steps":2})");
}

TEST(Schedule, Errors) {
  EXPECT_TRUE(throws_with([] { op::constant_lr(-1, 0.1); }, {"constant_lr: step must be >= 0, got -1"}));
  EXPECT_TRUE(throws_with([] { op::constant_lr(0, -0.1); }, {"constant_lr: base_lr must be >= 0, got -0.1"}));
  EXPECT_TRUE(throws_with([] { op::warmup_cosine_lr(0, 1.0, 5, 3); },
                          {"warmup_cosine_lr: need 0 <= warmup_steps <= total_steps and total_steps > 0, got 5 and 3"}));
  EXPECT_TRUE(throws_with([] { op::warmup_cosine_lr(0, 1.0, 0, 0); }, {"got 0 and 0"}));
  EXPECT_TRUE(throws_with([] { op::warmup_cosine_lr(0, 1.0, 1, 5, 2.0); },
                          {"warmup_cosine_lr: need 0 <= min_lr <= base_lr, got min_lr 2 and base_lr 1"}));
  EXPECT_TRUE(throws_with([] { op::step_decay_lr(0, 1.0, 0, 0.5); }, {"step_decay_lr: step_size must be > 0, got 0"}));
  EXPECT_TRUE(throws_with([] { op::step_decay_lr(0, 1.0, 3, -0.5); }, {"step_decay_lr: gamma must be >= 0, got -0.5"}));
  EXPECT_TRUE(throws_with([] { op::Schedule::warmup_cosine(1.0, 10, 5); }, {"warmup_cosine_lr: need 0 <= warmup_steps"}));
  EXPECT_TRUE(throws_with([] { op::Schedule::from_json(nlohmann::json{{"kind", "linear"}, {"base_lr", 1.0}}); },
                          {"Schedule::from_json: unknown kind 'linear' (expected constant, warmup_cosine or step_decay)"}));
  EXPECT_TRUE(throws_with([] { op::Schedule::from_json(nlohmann::json{{"kind", "step_decay"}, {"base_lr", 1.0}}); },
                          {"Schedule::from_json: ", "not found"}));
}

}  // namespace
