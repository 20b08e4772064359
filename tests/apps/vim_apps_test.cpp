// vim_apps_test.cpp: end-to-end smoke tests of `pretrain_vim` and `finetune_vim` on tiny presets and
// a synthetic IDX image set written by the test (seconds each): the output contract (last stdout line
// one JSON object; one-line errors, exit 1), the run directory (config.json with every flag,
// metrics.jsonl, curves.png, checkpoint/, adapter/, model/), --dry-run parameter counts against
// counts computed here from the shapes, --eval-only reproducing the committed Vim fixture's loss
// (tests/data/vim_tiny, from PyTorch) and a trained adapter's loss, --save-merged, bit-exact --resume,
// and bad input. The programs are found at $PM_APPS_BIN_DIR/<name>/<name>, else next to this test's
// build folder (<build>/apps/<name>/<name>).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/test_util.h"
#include "program_runner.h"
#include "datasets/image_decode.h"
#include "mamba/checkpoint.h"
#include "mamba/config.h"
#include "mamba/vision.h"
#include "nn/safetensors.h"
#include "tensor/generator.h"
#include "tensor/storage.h"

namespace {

namespace fs = std::filesystem;

// The tiny model of these tests: vim-test reshaped for 28x28 grey images, 10 classes.
const char* kTinySet = "img_size=28 patch_size=7 stride=7 channels=1 num_classes=10 image_mean=0.2 image_std=0.3";

using apps_test::read_text;
using apps_test::RunResult;
using apps_test::TempDir;

// Runs a program on the CPU (or `device`) with 2 threads.
RunResult run(const std::string& name, const std::vector<std::string>& args, const std::string& device = "cpu") {
  std::vector<std::string> all = {"--threads", "2", "--device", device};
  all.insert(all.end(), args.begin(), args.end());
  return apps_test::run_program(name, all);
}

// A failed run: exit status 1 and exactly one stderr line, "<program>: error: ..." containing `part`.
void expect_error(const RunResult& r, const std::string& program, const std::string& part) {
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_EQ(r.err_lines().size(), 1u) << r.err;
  apps_test::expect_one_line_error(r, program, part);
}

// Big-endian u32.
void put_u32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A synthetic MNIST-like IDX set in `dir`: class k is a bright 7x7 square in patch cell k of the 4x4
// grid plus noise, so a tiny Vim learns it in a few steps.
void write_synthetic_idx(const std::string& dir, int n_train = 192, int n_test = 64) {
  fs::create_directories(dir);
  std::mt19937 rng(123);
  for (auto [split, n] : {std::pair<std::string, int>{"train", n_train}, {"t10k", n_test}}) {
    std::string images, labels;
    put_u32(images, 0x0803), put_u32(images, n), put_u32(images, 28), put_u32(images, 28);
    put_u32(labels, 0x0801), put_u32(labels, n);
    for (int i = 0; i < n; ++i) {
      const int k = static_cast<int>(rng() % 10);
      labels.push_back(static_cast<char>(k));
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) {
          const bool on = (y / 7) == k / 4 && (x / 7) == k % 4;
          images.push_back(static_cast<char>(on ? 200 + rng() % 56 : rng() % 40));
        }
    }
    std::ofstream(dir + "/" + split + "-images-idx3-ubyte", std::ios::binary) << images;
    std::ofstream(dir + "/" + split + "-labels-idx1-ubyte", std::ios::binary) << labels;
  }
}

std::vector<std::string> tiny_args(const std::string& data) {
  return {"--preset", "vim-test", "--set", kTinySet, "--data", data, "--batch-size", "16", "--seed", "3"};
}

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// ---- contract and run directory ----------------------------------------------------------------

TEST(VimApps, HelpListsTheFlagsAndExitsZero) {
  RunResult r = run("finetune_vim", {"--help"});
  EXPECT_EQ(r.rc, 0);
  for (const char* flag : {"--peft", "--rb-in", "--rank", "--adapter", "--eval-only", "--dry-run", "--save-merged",
                           "--resume", "--schedule", "--device", "--out"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  EXPECT_EQ(run("pretrain_vim", {"--help"}).rc, 0);
}

TEST(VimApps, PretrainWritesARunAndALoadableModel) {
  TempDir t;
  write_synthetic_idx(t / "data");
  RunResult r =
      run("pretrain_vim",
          cat(tiny_args(t / "data"), {"--steps", "8", "--eval-every", "4", "--out", t / "run", "--save", t / "saved"}));
  ASSERT_EQ(r.rc, 0) << r.err;
  const nlohmann::json j = r.last_json();
  for (const char* k : {"eval_loss", "eval_acc", "trainable_params", "total_params", "seconds"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["trainable_params"], j["total_params"]);
  for (const char* f : {"config.json", "metrics.jsonl", "curves.png", "checkpoint/train_state.json",
                        "model/config.json", "model/model.safetensors"})
    EXPECT_TRUE(fs::exists(t / ("run/" + std::string(f)))) << f;
  // the model saved by --save evaluates to the reported loss through finetune_vim --eval-only
  RunResult e = run("finetune_vim", {"--model", t / "saved", "--eval-only", "--data", t / "data"});
  ASSERT_EQ(e.rc, 0) << e.err;
  EXPECT_NEAR(e.last_json()["eval_loss"].get<double>(), j["eval_loss"].get<double>(), 1e-5);
  // metrics: a training line per step and the two evaluations
  int evals = 0, trains = 0;
  std::istringstream ms(read_text(t / "run/metrics.jsonl"));
  for (std::string line; std::getline(ms, line);) {
    auto m = nlohmann::json::parse(line);
    evals += m.contains("eval_loss");
    trains += m.contains("loss");
  }
  EXPECT_EQ(evals, 2);
  EXPECT_EQ(trains, 8);
}

TEST(VimApps, FinetuneContractRunDirectoryAdapterAndMerge) {
  TempDir t;
  write_synthetic_idx(t / "data");
  RunResult r = run("finetune_vim", cat(tiny_args(t / "data"), {"--steps", "10", "--eval-every", "5", "--lr", "5e-3",
                                                                 "--out", t / "run", "--save-merged", t / "merged"}));
  ASSERT_EQ(r.rc, 0) << r.err;
  const nlohmann::json j = r.last_json();
  ASSERT_TRUE(j.is_object()) << r.out;
  for (const char* k : {"eval_loss", "eval_acc", "trainable_params", "total_params", "seconds"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["method"], "prodial");
  EXPECT_LT(j["trainable_params"].get<int64_t>(), j["total_params"].get<int64_t>());

  // config.json: every flag, resolved
  const auto config = nlohmann::json::parse(read_text(t / "run/config.json"));
  for (const char* k :
       {"device",       "seed",         "threads",   "out",       "peft",       "rb-in",  "rb-out",     "rank",
        "alpha",        "lora-dropout", "diag-mode", "targets",   "steps",      "epochs", "batch-size", "lr",
        "weight-decay", "schedule",     "warmup",    "grad-clip", "eval-every", "data",   "model",      "preset"})
    EXPECT_TRUE(config["flags"].contains(k)) << k;
  EXPECT_EQ(config["flags"]["device"], "cpu");
  EXPECT_DOUBLE_EQ(config["flags"]["lr"].get<double>(), 5e-3);
  EXPECT_EQ(config["flags"]["rank"], 16);

  // curves.png decodes as an image
  const tensor::Tensor png = datasets::load_image(t / "run/curves.png", 3);
  EXPECT_GT(png.size(1), 100);
  EXPECT_GT(png.size(2), 400);
  EXPECT_TRUE(fs::exists(t / "run/adapter/adapter_config.json"));
  EXPECT_TRUE(fs::exists(t / "run/adapter/adapter_model.safetensors"));

  // the adapter on the same base model reproduces the final evaluation (base: same preset and seed)
  RunResult e = run("finetune_vim", cat(tiny_args(t / "data"), {"--eval-only", "--adapter", t / "run/adapter"}));
  ASSERT_EQ(e.rc, 0) << e.err;
  EXPECT_NEAR(e.last_json()["eval_loss"].get<double>(), j["eval_loss"].get<double>(), 1e-5);
  EXPECT_DOUBLE_EQ(e.last_json()["eval_acc"].get<double>(), j["eval_acc"].get<double>());
  // ... and so does the merged model, which has no adapter code left
  RunResult m = run("finetune_vim", {"--model", t / "merged", "--eval-only", "--data", t / "data"});
  ASSERT_EQ(m.rc, 0) << m.err;
  EXPECT_NEAR(m.last_json()["eval_loss"].get<double>(), j["eval_loss"].get<double>(), 1e-4);
  EXPECT_EQ(m.last_json()["total_params"], mamba::load_vision_mamba(t / "merged")->num_parameters());
}

TEST(VimApps, ResumeContinuesBitForBit) {
  TempDir t;
  write_synthetic_idx(t / "data");
  // with LoRA dropout (0.1 by default): its generator is checkpointed too
  const auto args = cat(tiny_args(t / "data"), {"--steps", "12", "--eval-every", "4"});
  RunResult a = run("finetune_vim", cat(args, {"--out", t / "a"}));
  ASSERT_EQ(a.rc, 0) << a.err;
  RunResult b1 = run("finetune_vim", cat(args, {"--out", t / "b", "--stop-after", "8"}));
  ASSERT_EQ(b1.rc, 0) << b1.err;
  EXPECT_EQ(b1.last_json()["steps"], 8);
  RunResult b2 = run("finetune_vim", {"--resume", t / "b"});
  ASSERT_EQ(b2.rc, 0) << b2.err;
  EXPECT_EQ(b2.last_json()["steps"], 12);
  EXPECT_EQ(b2.last_json()["eval_loss"], a.last_json()["eval_loss"]);
  EXPECT_EQ(read_text(t / "a/adapter/adapter_model.safetensors"), read_text(t / "b/adapter/adapter_model.safetensors"));
  // resuming the finished run evaluates it again and writes nothing
  const std::string metrics = read_text(t / "b/metrics.jsonl");
  RunResult b3 = run("finetune_vim", {"--resume", t / "b"});
  ASSERT_EQ(b3.rc, 0) << b3.err;
  EXPECT_EQ(b3.last_json()["eval_loss"], a.last_json()["eval_loss"]);
  EXPECT_EQ(read_text(t / "b/metrics.jsonl"), metrics);
  // a resume that changes the configuration is refused and leaves the run as it was
  const std::string before = read_text(t / "b/checkpoint/train_state.json");
  expect_error(run("finetune_vim", {"--resume", t / "b", "--lr", "0.5"}), "finetune_vim", "--lr");
  expect_error(run("finetune_vim", {"--resume", t / "b", "--peft", "lora"}), "finetune_vim", "--peft");
  EXPECT_EQ(read_text(t / "b/checkpoint/train_state.json"), before);
}

TEST(VimApps, EpochsCountWholeBatchesOfTheTrainingSet) {
  TempDir t;
  write_synthetic_idx(t / "data", 200, 32);
  // 200 images at batch 16: 12 whole batches an epoch (the partial one is dropped)
  RunResult r =
      run("finetune_vim", cat(tiny_args(t / "data"), {"--epochs", "2", "--out", t / "run", "--peft", "head"}));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.last_json()["steps"], 24);
  const auto config = nlohmann::json::parse(read_text(t / "run/config.json"));
  EXPECT_EQ(config["flags"]["epochs"], 2);
  EXPECT_EQ(config["resolved"]["total_steps"], 24);
}

TEST(VimApps, TrainsOnAnImageFolderOfPngs) {
  TempDir t;
  // 5 classes of 16x16 RGB images, each class its own colour plus noise (vim-test: 16x16, 3 channels, 5 classes)
  std::mt19937 rng(5);
  for (int k = 0; k < 5; ++k) {
    fs::create_directories(t / ("folder/class" + std::to_string(k)));
    for (int i = 0; i < 6; ++i) {
      tensor::Tensor img = tensor::Tensor::empty({3, 16, 16}, tensor::DType::UInt8);
      uint8_t* d = img.data<uint8_t>();
      for (int c = 0; c < 3; ++c)
        for (int p = 0; p < 256; ++p)
          d[c * 256 + p] = static_cast<uint8_t>(((k * 50 + c * 80) % 256 + rng() % 30) % 256);
      std::ofstream(t / ("folder/class" + std::to_string(k) + "/" + std::to_string(i) + ".png"), std::ios::binary)
          << datasets::encode_png(img);
    }
  }
  RunResult r = run("finetune_vim", {"--preset", "vim-test", "--data", t / "folder", "--steps", "3", "--batch-size",
                                      "8", "--peft", "lora", "--out", t / "run"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(r.last_json().contains("eval_acc"));
  EXPECT_EQ(nlohmann::json::parse(read_text(t / "run/config.json"))["resolved"]["eval_examples"], 30);
  // the same folder for a 3-class model: labels 3 and 4 do not fit it
  expect_error(run("finetune_vim", {"--preset", "vim-test", "--set", "num_classes=3", "--data", t / "folder", "--steps",
                                    "1", "--out", t / "never"}),
               "finetune_vim", "classes");
}

TEST(VimApps, CompareRunsEachMethodOnTheSameBudget) {
  TempDir t;
  write_synthetic_idx(t / "data");
  RunResult r =
      run("finetune_vim", cat(tiny_args(t / "data"), {"--steps", "4", "--compare", "head,full", "--out", t / "cmp"}));
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto rows = r.last_json()["comparison"];
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["method"], "prodial");
  EXPECT_EQ(rows[1]["method"], "head");
  EXPECT_EQ(rows[2]["method"], "full");
  for (const auto& row : rows) {
    EXPECT_EQ(row["steps"], 4);
    EXPECT_TRUE(fs::exists(t / ("cmp/" + row["method"].get<std::string>() + "/adapter/adapter_model.safetensors")));
  }
  EXPECT_EQ(rows[2]["trainable_params"], rows[2]["total_params"]);
  const std::string table = read_text(t / "cmp/comparison.md");
  for (const char* m : {"| prodial |", "| head |", "| full |"}) EXPECT_NE(table.find(m), std::string::npos) << m;
  EXPECT_NE(r.out.find("| method | eval acc |"), std::string::npos);  // printed above the JSON line
  // each method's run resumes on its own, with its own method
  const auto config = nlohmann::json::parse(read_text(t / "cmp/head/config.json"));
  EXPECT_EQ(config["flags"]["peft"], "head");
  EXPECT_FALSE(config["flags"].contains("compare"));
}

// ---- parameter counts ---------------------------------------------------------------------------

TEST(VimApps, DryRunParameterCountsMatchTheShapes) {
  mamba::VimConfig cfg = mamba::vim_preset("vim-test");
  mamba::set_field(cfg, "img_size", "28");
  mamba::set_field(cfg, "patch_size", "7");
  mamba::set_field(cfg, "stride", "7");
  mamba::set_field(cfg, "channels", "1");
  mamba::set_field(cfg, "num_classes", "10");
  mamba::set_field(cfg, "image_mean", "0.2");
  mamba::set_field(cfg, "image_std", "0.3");
  mamba::VisionMamba model(cfg);
  const int64_t total = model.num_parameters();
  const int64_t D = cfg.embed_dim, E = cfg.inner(), layers = cfg.depth, classes = cfg.num_classes, r = 4;
  const int64_t head = classes * D + classes;
  // patch embedding (1 channel, 7x7 patches) + class token + position embedding of 16 patches + 1
  const int64_t embeddings = (D * 7 * 7 + D) + D + (16 + 1) * D;
  // in_proj D -> 2E, out_proj E -> D: LoRA adds r (d_in + d_out) to each
  const int64_t lora = layers * r * ((D + 2 * E) + (E + D));
  // ProDiaL adds, besides its LoRA term, the block-diagonal R (rb blocks of (d_in/rb)^2; rb 0 = diagonal)
  // and the scale s [d_out]: here in_proj with 4 blocks, out_proj diagonal
  const int64_t prodial_extra = layers * ((D * D / 4 + 2 * E) + (E + D));
  struct Case {
    std::vector<std::string> args;
    int64_t trainable, all;
  } cases[] = {
      {{"--peft", "full"}, total, total},
      {{"--peft", "head"}, head, total},
      {{"--peft", "lora", "--rank", "4"}, head + lora, total + lora},
      {{"--peft", "prodial", "--rank", "4", "--rb-in", "4"}, head + lora + prodial_extra, total + lora + prodial_extra},
      // a layer subset, out_proj only, and the embeddings made trainable too
      {{"--peft", "lora", "--rank", "4", "--layers", "0"}, head + lora / layers, total + lora / layers},
      {{"--peft", "lora", "--rank", "4", "--targets", "out_proj"}, head + layers * r * (E + D), total + layers * r * (E + D)},
      {{"--peft", "head", "--train-embeddings"}, head + embeddings, total},
  };
  for (const auto& c : cases) {
    RunResult d = run("finetune_vim", cat(cat({"--preset", "vim-test", "--set", kTinySet, "--dry-run"}, {}), c.args));
    ASSERT_EQ(d.rc, 0) << d.err;
    EXPECT_EQ(d.last_json()["trainable_params"].get<int64_t>(), c.trainable) << c.args[1];
    EXPECT_EQ(d.last_json()["total_params"].get<int64_t>(), c.all) << c.args[1];
  }
  RunResult p = run("pretrain_vim", {"--preset", "vim-test", "--set", kTinySet, "--dry-run"});
  ASSERT_EQ(p.rc, 0) << p.err;
  EXPECT_EQ(p.last_json()["total_params"].get<int64_t>(), total);
}

// ---- fixtures -----------------------------------------------------------------------------------

TEST(VimApps, EvalOnlyReproducesThePyTorchFixtureLoss) {
  const std::string dir = pm_test::data_path("vim_tiny");
  RunResult r = run("finetune_vim", {"--model", dir, "--eval-only", "--data", dir + "/fixtures.safetensors"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto fx = nn::load_safetensors(dir + "/fixtures.safetensors");
  EXPECT_NEAR(r.last_json()["eval_loss"].get<double>(), fx.at("loss").to_vector()[0], 2e-5);
  EXPECT_EQ(r.last_json()["total_params"].get<int64_t>(), mamba::load_vision_mamba(dir)->num_parameters());
}

// On a GPU: the fixture's loss and a short ProDiaL run come out as on the CPU (skips without one).
TEST(VimApps, CudaRunsMatchTheCpu) {
  if (!tensor::cuda_available()) GTEST_SKIP() << "no CUDA GPU available (or built without CUDA)";
  const std::string dir = pm_test::data_path("vim_tiny");
  const std::vector<std::string> eval = {"--model", dir, "--eval-only", "--data", dir + "/fixtures.safetensors"};
  RunResult g = run("finetune_vim", eval, "cuda"), c = run("finetune_vim", eval, "cpu");
  ASSERT_EQ(g.rc, 0) << g.err;
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_NEAR(g.last_json()["eval_loss"].get<double>(), c.last_json()["eval_loss"].get<double>(), 2e-5);
  TempDir t;
  write_synthetic_idx(t / "data");
  const std::vector<std::string> train = cat(tiny_args(t / "data"), {"--steps", "6", "--lr", "5e-3", "--lora-dropout", "0"});
  g = run("finetune_vim", cat(train, {"--out", t / "gpu"}), "cuda");
  c = run("finetune_vim", cat(train, {"--out", t / "cpu"}), "cpu");
  ASSERT_EQ(g.rc, 0) << g.err;
  ASSERT_EQ(c.rc, 0) << c.err;
  const double lg = g.last_json()["eval_loss"].get<double>(), lc = c.last_json()["eval_loss"].get<double>();
  EXPECT_NEAR(lg, lc, 1e-3 * std::max(1.0, std::fabs(lc)));
}

// ---- bad input ----------------------------------------------------------------------------------

// A diverging run (lr 1e30, no clipping) stops at the first non-finite loss with one error line that
// names the step, before that step moves any parameter, and leaves no checkpoint behind.
TEST(VimApps, NonFiniteLossStopsWithOneLineError) {
  TempDir t;
  write_synthetic_idx(t / "data");
  RunResult r = run("finetune_vim", cat(tiny_args(t / "data"), {"--peft", "full", "--lr", "1e30", "--grad-clip", "0",
                                                                 "--warmup", "0", "--schedule", "constant", "--steps",
                                                                 "6", "--out", t / "run"}));
  EXPECT_EQ(r.rc, 1) << r.err;
  apps_test::expect_one_line_error(r, "finetune_vim", "step 2: the loss is");  // after step 1's progress line
  EXPECT_FALSE(fs::exists(t / "run/checkpoint"));
}

TEST(VimApps, BadInputIsOneLineAndWritesNothing) {
  TempDir t;
  write_synthetic_idx(t / "data");
  const std::string out = t / "never";
  auto train = [&](std::vector<std::string> extra) {
    return cat(cat(extra, {"--data", t / "data", "--steps", "2", "--out", out}), {});
  };

  expect_error(run("finetune_vim", train({"--model", t / "missing"})), "finetune_vim", "--model");
  fs::create_directories(t / "bad");
  std::ofstream(t / "bad/config.json") << "{ not json";
  expect_error(run("finetune_vim", train({"--model", t / "bad"})), "finetune_vim", "--model");
  std::ofstream(t / "bad/config.json") << R"({"model_type": "vim", "img_size": 28})";
  expect_error(run("finetune_vim", train({"--model", t / "bad"})), "finetune_vim", "--model");
  expect_error(run("finetune_vim", train({"--preset", "vim-test", "--set", kTinySet, "--peft", "nonsense"})),
               "finetune_vim", "--peft");
  // 3-channel images into a 1-channel model, and the reverse
  const std::string fixture = pm_test::data_path("vim_tiny");
  expect_error(run("finetune_vim", {"--preset", "vim-test", "--set", kTinySet, "--data",
                                    fixture + "/fixtures.safetensors", "--eval-only"}),
               "finetune_vim", "channel");
  expect_error(run("finetune_vim", train({"--model", fixture})), "finetune_vim", "channel");
  // an adapter trained for another model width
  RunResult a = run("finetune_vim", cat(tiny_args(t / "data"), {"--steps", "1", "--out", t / "small"}));
  ASSERT_EQ(a.rc, 0) << a.err;
  expect_error(run("finetune_vim", {"--preset", "vim-test", "--set", std::string(kTinySet) + " embed_dim=24",
                                    "--eval-only", "--data", t / "data", "--adapter", t / "small/adapter"}),
               "finetune_vim", "adapter");
  // a run directory is never overwritten by a fresh run
  const std::string cfg_before = read_text(t / "small/config.json");
  expect_error(run("finetune_vim", cat(tiny_args(t / "data"), {"--steps", "1", "--out", t / "small"})), "finetune_vim",
               "--resume");
  EXPECT_EQ(read_text(t / "small/config.json"), cfg_before);
  expect_error(run("finetune_vim", {"--resume", t / "nothing-here"}), "finetune_vim", "--resume");
  expect_error(run("finetune_vim", cat(tiny_args(t / "data"), {"--lr", "-1"})), "finetune_vim", "--lr");
  expect_error(run("pretrain_vim", {"--set", "no_such_field=3", "--dry-run"}), "pretrain_vim", "no_such_field");
  expect_error(run("finetune_vim", train({"--preset", "vim-test", "--set", kTinySet, "--layers", "0,x"})), "finetune_vim",
               "--layers");
  expect_error(run("finetune_vim", train({"--preset", "vim-test", "--set", kTinySet, "--layers", "99"})), "finetune_vim",
               "in layers [99]");
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
