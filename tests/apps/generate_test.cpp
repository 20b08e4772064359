// generate_test.cpp: the `generate` program end to end: --json greedy output equals
// mamba::generate_greedy on the same directory (with and without the eos stop), the streamed stdout is
// the prompt followed by the decoded ids, seeded sampling is reproducible and top-k 1 is greedy, the
// run directory's files, and bad input is a one-line error with a non-zero exit.
#include <gtest/gtest.h>

#include "datasets/bpe_tokenizer.h"
#include "lm_apps_test_util.h"
#include "mamba/api.h"

namespace {
using namespace lm_apps_test;

std::vector<int64_t> ids_of(const nlohmann::json& j) { return j.at("ids").get<std::vector<int64_t>>(); }

TEST(Generate, GreedyJsonEqualsLibraryGreedy) {
  TempDir dir("gen");
  const std::string model_dir = dir / "lm";
  make_byte_lm_dir(model_dir);
  auto model = mamba::load_mamba_lm(model_dir);
  datasets::ByteTokenizer bytes;
  const std::string prompt = "The whale";
  const std::vector<int64_t> p = bytes.encode(prompt);
  for (bool stop_at_eos : {false, true}) {
    SCOPED_TRACE(stop_at_eos ? "eos stop" : "ignore eos");
    std::vector<std::string> args = {"--model", model_dir, "--prompt", prompt, "--greedy", "--max-new-tokens", "20",
                                     "--json", "--device", "cpu", "--threads", "1"};
    if (!stop_at_eos) args.push_back("--ignore-eos");
    const RunResult r = run_program("generate", args);
    ASSERT_EQ(r.rc, 0) << r.err;
    const nlohmann::json j = r.last_json();
    ASSERT_TRUE(j.is_object()) << r.out;
    std::vector<int64_t> want = mamba::generate_greedy(
        *model, p, 20, stop_at_eos ? std::optional<int64_t>(model->config().eos_token_id) : std::nullopt);
    want.erase(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(p.size()));
    EXPECT_EQ(ids_of(j), want);
    EXPECT_EQ(j.at("text").get<std::string>(), bytes.decode(want));
    // streamed: the prompt, then the new text, then the JSON line
    EXPECT_EQ(r.out.rfind(prompt + bytes.decode(want) + "\n", 0), 0u);
  }
}

TEST(Generate, SamplingIsSeededAndTopK1IsGreedy) {
  TempDir dir("gen");
  const std::string model_dir = dir / "lm";
  make_byte_lm_dir(model_dir);
  auto sample = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--model", model_dir, "--prompt", "ab", "--max-new-tokens", "16", "--json",
                                     "--ignore-eos", "--device", "cpu", "--no-echo"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = run_program("generate", args);
    EXPECT_EQ(r.rc, 0) << r.err;
    return ids_of(r.last_json());
  };
  const auto a = sample({"--seed", "3", "--temperature", "2"}), b = sample({"--seed", "3", "--temperature", "2"});
  const auto c = sample({"--seed", "4", "--temperature", "2"});
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);  // 16 draws at temperature 2 from near-uniform logits: equal only by a fluke
  EXPECT_EQ(sample({"--seed", "5", "--top-k", "1"}), sample({"--greedy"}));
}

TEST(Generate, RunDirectory) {
  TempDir dir("gen");
  const std::string model_dir = dir / "lm";
  make_byte_lm_dir(model_dir);
  const RunResult r = run_program("generate", {"--model", model_dir, "--prompt", "x", "--greedy", "--max-new-tokens", "4",
                                               "--ignore-eos", "--device", "cpu", "--out", dir / "run"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto cfg = nlohmann::json::parse(read_text(dir / "run/config.json"));
  EXPECT_EQ(cfg.at("flags").at("max-new-tokens"), 4);
  EXPECT_EQ(cfg.at("flags").at("greedy"), true);
  const auto gen = nlohmann::json::parse(read_text(dir / "run/generation.json"));
  EXPECT_EQ(gen.at("ids").size(), 4u);
}

TEST(Generate, BadInputIsOneLineError) {
  TempDir dir("gen");
  const std::string model_dir = dir / "lm";
  make_byte_lm_dir(model_dir);
  expect_one_line_error(run_program("generate", {"--model", dir / "nope", "--prompt", "x"}), "generate", "nope");
  expect_one_line_error(run_program("generate", {"--model", std::string(PM_TEST_DATA_DIR) + "/vim_tiny", "--prompt", "x", "--device", "cpu"}), "generate",
                        "Vision Mamba");
  expect_one_line_error(run_program("generate", {"--model", model_dir, "--prompt", "x", "--top-p", "0", "--device", "cpu"}),
                        "generate", "--top-p");
  expect_one_line_error(run_program("generate", {"--model", model_dir, "--prompt", "x", "--device", "tpu"}), "generate",
                        "--device");
  expect_one_line_error(run_program("generate", {"--model", model_dir, "--prompt", "x", "--bogus"}), "generate", "bogus");
  // a model directory without tokenizer.json
  std::filesystem::remove(model_dir + "/tokenizer.json");
  expect_one_line_error(run_program("generate", {"--model", model_dir, "--prompt", "x", "--device", "cpu"}), "generate",
                        "tokenizer.json");
  // ...which --tokenizer bytes fixes
  EXPECT_EQ(run_program("generate", {"--model", model_dir, "--prompt", "x", "--device", "cpu", "--tokenizer", "bytes",
                                     "--max-new-tokens", "2"}).rc, 0);
  // a tokenizer larger than the model's vocabulary (the tiny HF fixture has 64 ids)
  expect_one_line_error(run_program("generate", {"--model", std::string(PM_TEST_DATA_DIR) + "/mamba_hf_tiny", "--prompt", "x",
                                                 "--device", "cpu", "--tokenizer", "bytes"}),
                        "generate", "vocabulary");
  const RunResult help = run_program("generate", {"--help"});
  EXPECT_EQ(help.rc, 0);
  EXPECT_NE(help.out.find("--max-new-tokens"), std::string::npos);
}

}  // namespace
