// train_state_test.cpp: saving and resuming a training run. A tiny classifier (Linear, RMSNorm,
// Dropout, Linear) is trained with AdamW (decay/no-decay groups), a warm-up + cosine schedule,
// gradient clipping, dropout and a per-epoch shuffled data order; a run saved halfway (mid-epoch)
// and resumed into a fresh model and optimizer must give exactly the uninterrupted run's losses.
// Also: the directory's contents, atomic replacement, and each load error.
#include "nn/train_state.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "autograd/ops.h"
#include "common/test_util.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/norm.h"
#include "nn/optim/adamw.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/param_groups.h"
#include "nn/optim/sgd.h"
#include "nn/safetensors.h"

namespace {

namespace fs = std::filesystem;
using autograd::Variable;
using pm_test::throws_with;
using tensor::DType;
using tensor::Tensor;
namespace op = nn::optim;

constexpr int64_t kSamples = 64, kBatch = 8, kBatchesPerEpoch = kSamples / kBatch;

struct Classifier : nn::Module {
  Classifier(uint64_t seed, std::shared_ptr<tensor::Generator> dropout_gen) : Module("Classifier") {
    tensor::Generator g(seed);
    register_module("fc1", std::make_shared<nn::Linear>(4, 16, true, &g));
    register_module("norm", std::make_shared<nn::RMSNorm>(16));
    register_module("drop", std::make_shared<nn::Dropout>(0.2, std::move(dropout_gen)));
    register_module("fc2", std::make_shared<nn::Linear>(16, 3, true, &g));
  }
  Variable forward(const Variable& x) {
    Variable h = autograd::gelu(child<nn::UnaryModule>("fc1")->forward(x));
    h = child<nn::UnaryModule>("drop")->forward(child<nn::UnaryModule>("norm")->forward(h));
    return child<nn::UnaryModule>("fc2")->forward(h);
  }
};

// Everything a run holds: model, optimizer, schedule, generators, data.
struct TrainingRun {
  std::shared_ptr<tensor::Generator> dropout_gen;
  Classifier model;
  op::AdamW opt;
  op::Schedule schedule;
  nn::TrainState state;
  Tensor X, Y;

  explicit TrainingRun(uint64_t seed)
      : dropout_gen(std::make_shared<tensor::Generator>(seed + 1)),
        model(seed, dropout_gen),
        opt(op::split_decay(model.named_trainable_parameters(), 0.05), options()),
        schedule(op::Schedule::warmup_cosine(0.02, 3, 12, 0.002)) {
    // The data set is fixed, whatever the run's seed: labels are the argmax of a fixed linear map.
    tensor::Generator data(77);
    X = tensor::randn({kSamples, 4}, DType::Float32, &data);
    Y = tensor::argmax(tensor::matmul(X, tensor::randn({4, 3}, DType::Float32, &data)), 1);
  }
  // Loss over the whole data set in eval mode (no dropout, no graph, no random draws).
  double eval_loss() {
    autograd::NoGradGuard no_grad;
    model.eval();
    double l = nn::cross_entropy(model.forward(Variable(X)), Y).item<double>();
    model.train();
    return l;
  }
  static op::AdamWOptions options() {
    op::AdamWOptions o;
    o.lr = 0.02;
    return o;
  }
  nn::Checkpointed what() {
    nn::Checkpointed w;
    w.model = &model;
    w.optimizer = &opt;
    w.schedule = &schedule;
    w.generators = {{"dropout", dropout_gen.get()}};
    return w;
  }
  // The sample order of an epoch: a pure function of the epoch number.
  std::vector<int64_t> order(int64_t epoch) const {
    tensor::Generator g(1000 + static_cast<uint64_t>(epoch));
    auto keys = tensor::rand({kSamples}, DType::Float64, &g).to_vector();
    std::vector<int64_t> idx(kSamples);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return keys[a] < keys[b]; });
    return idx;
  }
  double train_step() {
    auto idx = order(state.epoch);
    std::vector<int64_t> batch(idx.begin() + state.data_position * kBatch, idx.begin() + (state.data_position + 1) * kBatch);
    Tensor bi = tensor::from_vector(batch, {kBatch});
    Tensor xb = tensor::index_select(X, 0, bi), yb = tensor::index_select(Y, 0, bi);
    // A draw from the default generator each step (as label noise), so its state matters too.
    Tensor noise = tensor::randn({kBatch, 4}, DType::Float32, nullptr, 0.0, 0.01);
    tensor::CrossEntropyOptions ce;
    ce.label_smoothing = 0.05;
    Variable loss = nn::cross_entropy(model.forward(Variable(tensor::add(xb, noise))), yb, ce);
    opt.zero_grad();
    loss.backward();
    op::clip_grad_norm(model.trainable_parameters(), 1.0);
    opt.set_lr_factor(schedule.factor(state.step));
    opt.step();
    ++state.step;
    if (++state.data_position == kBatchesPerEpoch) {
      state.data_position = 0;
      ++state.epoch;
    }
    return loss.item<double>();
  }
};

class TrainStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("pm_train_state_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string ckpt(const std::string& name = "ckpt") const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(TrainStateTest, ResumedRunEqualsUninterruptedRunBitForBit) {
  const int N = 12;  // 1.5 epochs: the save at N/2 = 6 falls mid-epoch
  tensor::manual_seed(5);
  TrainingRun full(1);
  std::vector<double> want;
  for (int i = 0; i < N; ++i) want.push_back(full.train_step());

  tensor::manual_seed(5);
  TrainingRun first(1);
  for (int i = 0; i < N / 2; ++i) EXPECT_EQ(first.train_step(), want[i]);
  first.state.extra["best_loss"] = 0.5;
  nn::save_train_state(ckpt(), first.what(), first.state);

  tensor::manual_seed(999);  // scramble the default generator; resume must restore it
  TrainingRun second(42);            // a different init and dropout seed; resume must overwrite both
  second.state = nn::load_train_state(ckpt(), second.what());
  EXPECT_EQ(second.state.step, N / 2);
  EXPECT_EQ(second.state.epoch, 0);
  EXPECT_EQ(second.state.data_position, N / 2);
  EXPECT_EQ(second.state.extra["best_loss"], 0.5);
  EXPECT_EQ(second.opt.step_count(), N / 2);
  for (int i = N / 2; i < N; ++i) EXPECT_EQ(second.train_step(), want[i]) << "step " << i;
  for (const auto& [n, t] : full.model.state_dict())
    EXPECT_EQ(second.model.state_dict().at(n).to_vector(), t.to_vector()) << n;
  EXPECT_LT(full.eval_loss(), TrainingRun(1).eval_loss() - 0.1);  // and it did train
}

TEST_F(TrainStateTest, DirectoryContentsAndAtomicReplacement) {
  TrainingRun r(3);
  r.train_step();
  nn::save_train_state(ckpt(), r.what(), r.state);
  EXPECT_TRUE(fs::exists(ckpt() + "/model.safetensors"));
  EXPECT_TRUE(fs::exists(ckpt() + "/optimizer.safetensors"));
  std::ifstream f(ckpt() + "/train_state.json");
  auto j = nlohmann::json::parse(f);
  EXPECT_EQ(j["format"], "pm.train_state");
  EXPECT_EQ(j["step"], 1);
  EXPECT_EQ(j["data_position"], 1);
  EXPECT_EQ(j["optimizer"], "AdamW");
  EXPECT_EQ(j["schedule"]["kind"], "warmup_cosine");
  EXPECT_EQ(j["rng"]["dropout"]["seed"], 4u);
  EXPECT_EQ(j["rng"]["dropout"]["offset"], r.dropout_gen->offset());
  EXPECT_TRUE(j["rng"].contains("default"));
  auto model = nn::load_safetensors(ckpt() + "/model.safetensors");
  EXPECT_EQ(model.size(), r.model.state_dict().size());
  EXPECT_TRUE(model.count("fc1.weight"));

  // Saving again replaces the directory as a whole and leaves no temporaries behind.
  fs::path stray = fs::path(ckpt()) / "stray.txt";
  std::ofstream(stray) << "old";
  r.train_step();
  nn::save_train_state(ckpt(), r.what(), r.state);
  EXPECT_FALSE(fs::exists(stray));
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(dir_)) entries.push_back(e.path().filename().string());
  EXPECT_EQ(entries, (std::vector<std::string>{"ckpt"}));
  EXPECT_EQ(nn::load_train_state(ckpt(), r.what()).step, 2);
}

TEST_F(TrainStateTest, ModelOnlyCheckpoint) {
  TrainingRun r(3);
  nn::Checkpointed w;
  w.model = &r.model;
  nn::save_train_state(ckpt(), w, r.state);
  EXPECT_FALSE(fs::exists(ckpt() + "/optimizer.safetensors"));
  EXPECT_EQ(nn::load_train_state(ckpt(), w).step, 0);
  // Asking for an optimizer the checkpoint lacks.
  w.optimizer = &r.opt;
  EXPECT_TRUE(throws_with([&] { nn::load_train_state(ckpt(), w); },
                          {"load_train_state: " + ckpt() + ": the checkpoint has no optimizer state"}));
}

TEST_F(TrainStateTest, LoadErrors) {
  TrainingRun r(3);
  EXPECT_TRUE(throws_with([&] { nn::load_train_state(ckpt("none"), r.what()); },
                          {"load_train_state: " + ckpt("none") + ": not a directory"}));
  fs::create_directories(ckpt("empty"));
  EXPECT_TRUE(throws_with([&] { nn::load_train_state(ckpt("empty"), r.what()); },
                          {"load_train_state: " + ckpt("empty") + ": train_state.json is missing"}));
  std::ofstream(ckpt("empty") + "/train_state.json") << "{ not json";
  EXPECT_TRUE(throws_with([&] { nn::load_train_state(ckpt("empty"), r.what()); },
                          {ckpt("empty") + ": train_state.json is not valid JSON"}));
  std::ofstream(ckpt("empty") + "/train_state.json") << R"({"format": "something else"})";
  EXPECT_TRUE(throws_with([&] { nn::load_train_state(ckpt("empty"), r.what()); },
                          {"train_state.json is not a training state (format is not \"pm.train_state\")"}));
  std::ofstream(ckpt("empty") + "/train_state.json") << R"({"format": "pm.train_state", "version": 1})";
  EXPECT_TRUE(throws_with([&] { nn::load_train_state(ckpt("empty"), r.what()); }, {"train_state.json: ", "step"}));
  std::ofstream(ckpt("empty") + "/train_state.json") << R"({"format": "pm.train_state", "version": 7})";
  EXPECT_TRUE(throws_with([&] { nn::load_train_state(ckpt("empty"), r.what()); },
                          {"train_state.json has version 7, this build reads 1"}));

  nn::save_train_state(ckpt(), r.what(), r.state);
  // An unknown generator name.
  tensor::Generator other;
  auto w = r.what();
  w.generators["sampler"] = &other;
  EXPECT_TRUE(throws_with([&] { nn::load_train_state(ckpt(), w); }, {"train_state.json has no RNG state 'sampler'"}));
  // Another optimizer.
  op::SGD sgd(r.model.parameters());
  w = r.what();
  w.optimizer = &sgd;
  EXPECT_TRUE(throws_with([&] { nn::load_train_state(ckpt(), w); },
                          {"the checkpoint's optimizer is AdamW, this run uses SGD"}));
  // Another architecture: refused, model untouched.
  struct Other : nn::Module {
    Other() : Module("Other") { register_module("fc1", std::make_shared<nn::Linear>(4, 8)); }
  } other_model;
  Tensor before = other_model.parameter("fc1.weight").data().clone();
  w = r.what();
  w.model = &other_model;
  w.optimizer = nullptr;
  EXPECT_TRUE(throws_with([&] { nn::load_train_state(ckpt(), w); },
                          {ckpt() + ": model.safetensors: load_state_dict: the state dict does not match Other",
                           "fc1.weight: module [8, 4], given [16, 4]"}));
  EXPECT_EQ(other_model.parameter("fc1.weight").data().to_vector(), before.to_vector());
  // Missing files.
  fs::remove(ckpt() + "/optimizer.safetensors");
  EXPECT_TRUE(throws_with([&] { nn::load_train_state(ckpt(), r.what()); }, {"optimizer.safetensors is missing"}));
  fs::remove(ckpt() + "/model.safetensors");
  EXPECT_TRUE(throws_with([&] { nn::load_train_state(ckpt(), r.what()); }, {"model.safetensors is missing"}));
}

TEST_F(TrainStateTest, SaveErrorsLeaveNothingBehind) {
  TrainingRun r(3);
  EXPECT_TRUE(throws_with([&] { nn::save_train_state("", r.what(), r.state); },
                          {"save_train_state: empty directory name"}));
  // The parent "directory" is a regular file: the temporary directory cannot be made.
  std::ofstream(ckpt("file")) << "x";
  EXPECT_TRUE(throws_with([&] { nn::save_train_state(ckpt("file") + "/ckpt", r.what(), r.state); },
                          {"save_train_state: " + ckpt("file") + "/ckpt: "}));
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(dir_)) entries.push_back(e.path().filename().string());
  EXPECT_EQ(entries, (std::vector<std::string>{"file"}));
}

TEST_F(TrainStateTest, RefusedOptimizerStateLeavesTheModelAsItWas) {
  TrainingRun a(3);
  a.train_step();
  nn::save_train_state(ckpt(), a.what(), a.state);
  // Corrupt the optimizer file: drop a buffer.
  auto st = nn::load_safetensors(ckpt() + "/optimizer.safetensors");
  st.erase("state.fc1.weight.exp_avg");
  nn::save_safetensors(ckpt() + "/optimizer.safetensors", st);
  TrainingRun b(9);
  auto before = b.model.state_dict();
  std::map<std::string, std::vector<double>> values;
  for (auto& [n, t] : before) values[n] = t.to_vector();
  EXPECT_TRUE(throws_with([&] { nn::load_train_state(ckpt(), b.what()); },
                          {"optimizer.safetensors: AdamW::load_state_dict", "missing keys: [state.fc1.weight.exp_avg]"}));
  for (auto& [n, t] : b.model.state_dict()) EXPECT_EQ(t.to_vector(), values[n]) << n;
}

}  // namespace
