// apps_common_test.cpp: unit tests of apps/common, the programs' shared library: the schedules
// against their closed forms, the flags' JSON form and --resume's re-parse, run directories and
// atomic writes, curves.png, and the training loop (it fits a least-squares problem, and a run
// stopped and resumed from its checkpoint ends with exactly the parameters of an uninterrupted one).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "apps/common/cli.h"
#include "apps/common/plot.h"
#include "apps/common/program.h"
#include "apps/common/run_dir.h"
#include "apps/common/trainer.h"
#include "autograd/ops.h"
#include "datasets/image_decode.h"
#include "nn/linear.h"
#include "tensor/ops.h"

namespace {

namespace fs = std::filesystem;

class Scratch {
 public:
  Scratch() {
    std::random_device rd;
    path_ = (fs::temp_directory_path() / ("appscommon-" + std::to_string(::getpid()) + "-" + std::to_string(rd())))
                .string();
    fs::create_directories(path_);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& n) const { return path_ + "/" + n; }

 private:
  std::string path_;
};

TEST(AppsCommon, SchedulesFollowTheirFormulas) {
  const double base = 0.1;
  // warmup: linear to base over 10 steps
  EXPECT_DOUBLE_EQ(apps::schedule_lr("cosine", 0, base, 10, 110), base * 1 / 10);
  EXPECT_DOUBLE_EQ(apps::schedule_lr("linear", 4, base, 10, 110), base * 5 / 10);
  // after warmup: q = (step - 10) / 100
  EXPECT_DOUBLE_EQ(apps::schedule_lr("constant", 70, base, 10, 110), base);
  EXPECT_NEAR(apps::schedule_lr("cosine", 10, base, 10, 110), base, 1e-15);
  EXPECT_NEAR(apps::schedule_lr("cosine", 60, base, 10, 110), base / 2, 1e-15);
  EXPECT_NEAR(apps::schedule_lr("cosine", 35, base, 10, 110), base * (1 + std::cos(M_PI / 4)) / 2, 1e-15);
  EXPECT_NEAR(apps::schedule_lr("linear", 85, base, 10, 110), base * 0.25, 1e-15);
  EXPECT_DOUBLE_EQ(apps::schedule_lr("step", 59, base, 10, 110), base);
  EXPECT_DOUBLE_EQ(apps::schedule_lr("step", 60, base, 10, 110), base * 0.1);
  EXPECT_DOUBLE_EQ(apps::schedule_lr("step", 85, base, 10, 110), base * 0.01);
  EXPECT_THROW(apps::schedule_lr("exponential", 0, base, 0, 10), std::invalid_argument);
}

struct Flags {
  apps::CommonFlags common;
  apps::TrainFlags train;
  apps::PeftFlags peft;
  bool eval_only = false;
};

void make_app(CLI::App& app, Flags& f) {
  apps::capture_defaults(app);
  apps::add_common_flags(app, f.common);
  apps::add_train_flags(app, f.train);
  apps::add_peft_flags(app, f.peft);
  app.add_flag("--eval-only", f.eval_only, "x");
}

void parse(CLI::App& app, std::vector<std::string> args) {
  std::reverse(args.begin(), args.end());
  app.parse(args);
}

TEST(AppsCommon, FlagsJsonIsTypedAndResumeReparsesTheRunsFlags) {
  CLI::App app{"t", "prog"};
  Flags f;
  make_app(app, f);
  parse(app, {"--lr", "0.01", "--peft", "lora", "--rank", "4", "--eval-only", "--targets", "in_proj, out_proj"});
  const nlohmann::json j = apps::flags_json(app);
  EXPECT_EQ(j["lr"], 0.01);
  EXPECT_EQ(j["rank"], 4);
  EXPECT_EQ(j["peft"], "lora");
  EXPECT_EQ(j["eval-only"], true);
  EXPECT_EQ(j["schedule"], "cosine");  // a default
  EXPECT_EQ(j["batch-size"], 32);
  EXPECT_FALSE(j.contains("help"));
  apps::resolve_peft_flags(f.peft, 5);
  EXPECT_EQ(f.peft.opts.targets, (std::vector<std::string>{"in_proj", "out_proj"}));
  EXPECT_EQ(f.peft.opts.seed, 5u);
  const nlohmann::json config = {{"flags", j}, {"given", apps::given_flags(app)}};

  // a later invocation with only --resume gets every flag back
  CLI::App again{"t", "prog"};
  Flags g;
  make_app(again, g);
  parse(again, {"--resume", "RUN", "--threads", "1"});
  apps::reparse_for_resume(again, config, "RUN", {"resume", "threads"});
  EXPECT_DOUBLE_EQ(g.train.lr, 0.01);
  EXPECT_EQ(g.peft.method, "lora");
  EXPECT_EQ(g.peft.opts.rank, 4);
  EXPECT_TRUE(g.eval_only);
  EXPECT_EQ(g.train.resume, "RUN");
  EXPECT_EQ(g.common.threads, 1);

  // ... and refuses a flag that disagrees, naming both values
  CLI::App other{"t", "prog"};
  Flags h;
  make_app(other, h);
  parse(other, {"--resume", "RUN", "--rank", "8"});
  try {
    apps::reparse_for_resume(other, config, "RUN", {"resume"});
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "--resume: RUN was run with --rank 4, not --rank 8");
  }
  // the same value written differently agrees
  CLI::App same{"t", "prog"};
  Flags k;
  make_app(same, k);
  parse(same, {"--resume", "RUN", "--lr", "1e-2"});
  EXPECT_NO_THROW(apps::reparse_for_resume(same, config, "RUN", {"resume"}));
}

TEST(AppsCommon, RunDirectoriesAndAtomicWrites) {
  Scratch s;
  apps::RunDir run(s / "run", false);
  run.write_config({{"program", "x"}});
  EXPECT_THROW(apps::RunDir(s / "run", false), std::runtime_error);   // holds a run already
  EXPECT_THROW(apps::RunDir(s / "empty", true), std::runtime_error);  // nothing to resume
  EXPECT_NO_THROW(apps::RunDir(s / "run", true));
  for (int step = 1; step <= 5; ++step) run.append_metrics({{"step", step}, {"loss", 1.0 / step}});
  std::ofstream(run.file("metrics.jsonl"), std::ios::app) << "{\"step\": 6, \"lo";  // a line cut by a crash
  EXPECT_EQ(run.read_metrics().size(), 5u);
  run.truncate_metrics_after(3);
  const auto m = run.read_metrics();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m.back()["step"], 3);
  apps::write_file_atomic(s / "f.txt", "hello");
  EXPECT_EQ(apps::read_file(s / "f.txt"), "hello");
  for (const auto& e : fs::directory_iterator(s / "run"))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
  EXPECT_THROW(apps::write_file_atomic(s / "no/such/dir/f.txt", "x"), std::runtime_error);
}

TEST(AppsCommon, CurvesPngHasOnePanelPerMetric) {
  Scratch s;
  std::vector<nlohmann::json> lines;
  for (int i = 1; i <= 20; ++i) lines.push_back({{"step", i}, {"loss", 2.0 / i}});
  apps::write_curves(s / "a.png", lines);
  tensor::Tensor one = datasets::load_image(s / "a.png", 3);
  EXPECT_EQ(one.size(2), 480);
  lines.push_back({{"step", 20}, {"eval_loss", 0.2}, {"eval_acc", 0.9}});
  apps::write_curves(s / "b.png", lines);
  tensor::Tensor two = datasets::load_image(s / "b.png", 3);
  EXPECT_EQ(two.size(1), 360);
  EXPECT_EQ(two.size(2), 960);
  // the training curve's colour (31, 119, 180) is drawn in the first panel
  const auto px = two.contiguous();
  const uint8_t* d = px.data<uint8_t>();
  const int64_t plane = px.size(1) * px.size(2);
  int64_t blue = 0;
  for (int64_t i = 0; i < plane; ++i)
    if (d[i] == 31 && d[plane + i] == 119 && d[2 * plane + i] == 180 && i % px.size(2) < 480) ++blue;
  EXPECT_GT(blue, 100);
}

// Least squares y = X w* through an nn::Linear; the batch of a step is a pure function of the step.
struct Problem {
  tensor::Tensor X, y;
  Problem() {
    tensor::Generator g(11);
    X = tensor::randn({64, 3}, tensor::DType::Float32, &g);
    tensor::Tensor w = tensor::from_vector<float>({1.5f, -2.0f, 0.5f}, {3, 1});
    y = tensor::matmul(X, w);
  }
  apps::StepResult loss(nn::Linear& m, int64_t step) const {
    const int64_t start = (step % 4) * 16;
    autograd::Variable pred = m.forward(autograd::Variable(X.narrow(0, start, 16)));
    autograd::Variable diff = autograd::sub(pred, autograd::Variable(y.narrow(0, start, 16)));
    return {autograd::mean(autograd::mul(diff, diff)), 16};
  }
  apps::EvalResult eval(nn::Linear& m) const {
    autograd::Variable diff = autograd::sub(m.forward(autograd::Variable(X)), autograd::Variable(y));
    apps::EvalResult e;
    e.loss = autograd::mean(autograd::mul(diff, diff)).data().to_vector()[0];
    return e;
  }
};

apps::TrainResult train(const std::string& dir, bool resume, int64_t stop_after, nn::Linear& m) {
  Problem p;
  apps::TrainerOptions o;
  o.program = "test";
  o.total_steps = 60;
  o.lr = 0.05;
  o.warmup = 5;
  o.eval_every = 20;
  o.stop_after = stop_after;
  apps::RunDir run(dir, resume);
  if (!resume) run.write_config({{"program", "test"}});
  apps::Trainer t(m, o, run);
  return t.run([&](int64_t s) { return p.loss(m, s); }, [&] { return p.eval(m); }, resume);
}

TEST(AppsCommon, TrainerFitsAndResumesExactly) {
  Scratch s;
  tensor::Generator g1(3), g2(3);
  nn::Linear a(3, 1, true, &g1), b(3, 1, true, &g2);
  const double before = Problem().eval(a).loss;
  apps::TrainResult ra = train(s / "a", false, 0, a);
  EXPECT_EQ(ra.steps, 60);
  EXPECT_LT(ra.eval.loss, before * 0.05);
  EXPECT_TRUE(fs::exists(s / "a/checkpoint/train_state.json"));
  EXPECT_TRUE(fs::exists(s / "a/curves.png"));

  apps::TrainResult rb = train(s / "b", false, 20, b);
  EXPECT_TRUE(rb.stopped);
  EXPECT_EQ(rb.steps, 20);
  tensor::Generator g3(99);
  nn::Linear c(3, 1, true, &g3);  // different weights: the checkpoint must overwrite them
  apps::TrainResult rc = train(s / "b", true, 0, c);
  EXPECT_EQ(rc.steps, 60);
  EXPECT_EQ(a.parameter("weight").data().to_vector(), c.parameter("weight").data().to_vector());
  EXPECT_EQ(a.parameter("bias").data().to_vector(), c.parameter("bias").data().to_vector());
  EXPECT_EQ(ra.eval.loss, rc.eval.loss);
  // metrics: the stopped run's lines up to step 20, then the resumed ones; evaluations at 20, 40, 60
  int evals = 0;
  for (const auto& m : apps::RunDir(s / "b", true).read_metrics()) evals += m.contains("eval_loss");
  EXPECT_EQ(evals, 3);
}

TEST(AppsCommon, ParamCountsAndErrorLines) {
  const auto j = apps::param_counts(25, 100);
  EXPECT_EQ(j["trainable_params"], 25);
  EXPECT_EQ(j["total_params"], 100);
  EXPECT_DOUBLE_EQ(j["trainable_percent"].get<double>(), 25.0);
  CLI::App app{"t", "prog"};
  Flags f;
  make_app(app, f);
  EXPECT_THROW(apps::validate_train_flags([] {
                 apps::TrainFlags t;
                 t.batch_size = 0;
                 return t;
               }()),
               std::invalid_argument);
  apps::CommonFlags c;
  c.device = "tpu";
  try {
    apps::resolve_common_flags(c, "prog");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--device"), std::string::npos) << e.what();
  }
}

}  // namespace
