// analyze_transform_test.cpp: smoke tests of the `analyze_transform` program on tiny model directories
// written by the test (a Mamba LM saved in the HF layout, a copy with one in_proj scaled column-wise
// saved in the mamba_ssm layout; Vim directories of two widths): the JSON contract, the run directory's
// files, the heat maps decoded back, --help, and the one-line errors that leave nothing behind.
// The program is found through program_runner.h: $PM_APPS_BIN_DIR/analyze_transform/, else next to
// this test's build folder (<build>/apps/analyze_transform/).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/image_decode.h"
#include "mamba/checkpoint.h"
#include "mamba/config.h"
#include "mamba/lm.h"
#include "program_runner.h"
#include "mamba/vision.h"
#include "tensor/generator.h"

namespace {

namespace fs = std::filesystem;

using apps_test::read_text;
using apps_test::RunResult;

class AnalyzeTransformCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("pm_analyze_cli_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string bin = apps_test::program_path("analyze_transform");
    ASSERT_TRUE(fs::exists(bin)) << bin << " not found: build the analyze_transform target (or set PM_APPS_BIN_DIR)";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // Runs the program with whitespace-separated arguments (the test's paths have no spaces).
  RunResult run(const std::string& args) const {
    std::istringstream in(args);
    std::vector<std::string> v;
    for (std::string a; in >> a;) v.push_back(a);
    return apps_test::run_program("analyze_transform", v);
  }

  // Two LM directories: pretrained (HF layout) and fine-tuned (mamba_ssm layout) whose layer-1 in_proj
  // is W·diag(1 + 0.01 k).
  void make_lm_pair() {
    tensor::Generator g(7);
    mamba::MambaLM lm(mamba::mamba_preset("mamba-tiny"), &g);
    mamba::save_mamba_lm(lm, path("pre"));
    tensor::Tensor w = lm.parameter("backbone.layers.1.mixer.in_proj.weight").data();
    float* p = w.data<float>();
    for (int64_t i = 0; i < w.size(0); ++i)
      for (int64_t k = 0; k < w.size(1); ++k) p[i * w.size(1) + k] *= static_cast<float>(1.0 + 0.01 * k);
    mamba::save_mamba_lm(lm, path("ft"), mamba::CheckpointLayout::MambaSSM);
  }

  std::string dir_;
};

TEST_F(AnalyzeTransformCli, LmPairJsonRunDirectoryAndHeatmaps) {
  make_lm_pair();
  const RunResult r = run("--pretrained " + path("pre") + " --finetuned " + path("ft") + " --out " + path("run") +
                       " --block-count 4,8 --heatmap-size 8 --threads 2");
  ASSERT_EQ(r.rc, 0) << r.err;
  const nlohmann::json j = r.last_json();
  ASSERT_EQ(j["projectors"].size(), 4u);  // 2 layers x (in, out)
  EXPECT_EQ(j["block_count_in"], 4);
  EXPECT_EQ(j["block_count_out"], 8);
  EXPECT_TRUE(j.contains("seconds"));
  for (const auto& p : j["projectors"]) {
    SCOPED_TRACE(p["name"].get<std::string>());
    const bool in = p["projector"] == "in";
    EXPECT_EQ(p["d_in"], in ? 16 : 32);
    EXPECT_EQ(p["d_out"], in ? 64 : 16);
    EXPECT_EQ(p["rank"], 16);
    if (in && p["layer"] == 1) {
      // T = diag(1 + 0.01 k), k = 0..15, up to float32 rounding of W'
      EXPECT_NEAR(p["diag_mean"].get<double>(), 1.075, 1e-6);
      EXPECT_NEAR(p["offdiag_abs_mean"].get<double>(), 0.0, 1e-6);
      EXPECT_GT(p["diag_energy_share"].get<double>(), 0.999999);
      EXPECT_GT(p["rel_weight_change"].get<double>(), 0.01);
    } else if (in) {
      EXPECT_NEAR(p["rel_dev_identity"].get<double>(), 0.0, 1e-10);
    } else {  // the wide out_proj, unchanged: T = W⁺W, a rank-16 projection of a 32-dim space
      EXPECT_NEAR(p["rel_dev_projection"].get<double>(), 0.0, 1e-10);
      EXPECT_NEAR(p["diag_mean"].get<double>(), 0.5, 1e-10);
    }
  }
  EXPECT_FALSE(j["notes"].empty());  // the wide-projector note
  // the table precedes the JSON line
  EXPECT_NE(r.out.find("diag_mean"), std::string::npos);

  // run directory
  const nlohmann::json config = nlohmann::json::parse(read_text(path("run/config.json")));
  EXPECT_EQ(config["program"], "analyze_transform");
  EXPECT_EQ(config["flags"]["block-count"], "4,8");
  EXPECT_EQ(config["pretrained_layout"], "huggingface");
  EXPECT_EQ(config["finetuned_layout"], "mamba_ssm");
  const nlohmann::json stats = nlohmann::json::parse(read_text(path("run/stats.json")));
  EXPECT_EQ(stats["projectors"], j["projectors"]);
  const std::string csv = read_text(path("run/stats.csv"));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  EXPECT_EQ(csv.rfind("name,layer,projector,", 0), 0u);
  ASSERT_EQ(j["heatmaps"].size(), 4u);
  for (const auto& h : j["heatmaps"]) {
    SCOPED_TRACE(h["file"].get<std::string>());
    EXPECT_EQ(h["size"], 8);
    const tensor::Tensor img = datasets::load_image(path("run/" + h["file"].get<std::string>()), 3);
    EXPECT_EQ(img.size(0), 3);
    EXPECT_GE(img.size(2), 8 * 64);  // 8 entries of 64 px (about 512 px a side), plus the colour bar
    EXPECT_GE(img.size(1), 8 * 64);
  }
  EXPECT_TRUE(fs::exists(path("run/heatmaps/T_layer1_in_proj.png")));

  // the same --out again is refused (it holds a run)
  const RunResult again = run("--pretrained " + path("pre") + " --finetuned " + path("ft") + " --out " + path("run"));
  EXPECT_EQ(again.rc, 1);
}

TEST_F(AnalyzeTransformCli, SubsetsAndNoHeatmaps) {
  make_lm_pair();
  const RunResult r = run("--pretrained " + path("pre") + " --finetuned " + path("ft") + " --out " + path("run") +
                       " --layers 1 --projectors in --no-heatmaps --threads 1");
  ASSERT_EQ(r.rc, 0) << r.err;
  const nlohmann::json j = r.last_json();
  ASSERT_EQ(j["projectors"].size(), 1u);
  EXPECT_EQ(j["projectors"][0]["name"], "backbone.layers.1.mixer.in_proj.weight");
  EXPECT_TRUE(j["heatmaps"].empty());
  EXPECT_FALSE(fs::exists(path("run/heatmaps")));
}

TEST_F(AnalyzeTransformCli, Help) {
  const RunResult r = run("--help");
  EXPECT_EQ(r.rc, 0);
  for (const char* flag : {"--pretrained", "--finetuned", "--layers", "--projectors", "--block-count", "--heatmap-size",
                           "--out", "--threads", "--rcond", "--clip"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

// One line on stderr, "analyze_transform: error: ...", exit 1, and no run directory.
void expect_error(const RunResult& r, const std::vector<std::string>& parts, const std::string& out_dir) {
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_EQ(r.err.rfind("analyze_transform: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (const auto& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << "'" << p << "' not in: " << r.err;
  EXPECT_FALSE(fs::exists(out_dir));
}

TEST_F(AnalyzeTransformCli, BadInputIsOneLineAndWritesNothing) {
  make_lm_pair();
  const std::string out = path("run");
  expect_error(run("--pretrained " + path("missing") + " --finetuned " + path("ft") + " --out " + out),
               {"--pretrained", "missing", "not a directory"}, out);
  expect_error(run("--finetuned " + path("ft") + " --out " + out), {"--pretrained"}, out);
  // a directory without config.json
  fs::create_directories(path("empty"));
  expect_error(run("--pretrained " + path("pre") + " --finetuned " + path("empty") + " --out " + out), {"config.json"}, out);
  expect_error(run("--pretrained " + path("pre") + " --finetuned " + path("ft") + " --out " + out + " --layers 5"),
               {"layer 5"}, out);
  expect_error(run("--pretrained " + path("pre") + " --finetuned " + path("ft") + " --out " + out + " --block-count 3"),
               {"block count 3", "d_in 16"}, out);
  expect_error(run("--pretrained " + path("pre") + " --finetuned " + path("ft") + " --out " + out + " --projectors up"),
               {"--projectors", "up"}, out);

  // models of different shapes, and an LM against a Vim model
  tensor::Generator g(1);
  mamba::VimConfig narrow = mamba::vim_preset("vim-test"), wide = narrow;
  wide.embed_dim = 24;
  mamba::save_vision_mamba(mamba::VisionMamba(narrow, &g), path("vim16"));
  mamba::save_vision_mamba(mamba::VisionMamba(wide, &g), path("vim24"));
  expect_error(run("--pretrained " + path("vim16") + " --finetuned " + path("vim24") + " --out " + out),
               {"layers.0.mixer.in_proj.weight", "[64, 16]", "[96, 24]"}, out);
  expect_error(run("--pretrained " + path("pre") + " --finetuned " + path("vim16") + " --out " + out), {"LM", "Vim"}, out);
}

}  // namespace
