// pretrain_lm_test.cpp: the `pretrain_lm` program end to end on a tiny model and a small text file:
// the JSON contract, the parameter count against the architecture's formula, the run directory, the
// saved model directory (loads with its 257-token byte-level tokenizer and scores the validation text
// as reported), --resume after an interruption reproducing the uninterrupted run, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "lm_apps_test_util.h"
#include "mamba/api.h"

namespace {
using namespace lm_apps_test;
using nlohmann::json;

// The tiny run's flags, with `over` replacing (or adding) some of them.
std::vector<std::string> tiny_args(const TempDir& dir, const std::map<std::string, std::string>& over = {}) {
  std::vector<std::pair<std::string, std::string>> flags = {
      {"--preset", "mamba-tiny"}, {"--d-model", "16"},  {"--n-layer", "1"},        {"--data", dir / "corpus.txt"},
      {"--seq-len", "32"},        {"--batch-size", "4"}, {"--steps", "4"},         {"--eval-tokens", "64"},
      {"--device", "cpu"},        {"--threads", "2"}};
  for (const auto& [k, v] : over) {
    auto it = std::find_if(flags.begin(), flags.end(), [&](const auto& f) { return f.first == k; });
    if (it != flags.end()) it->second = v;
    else flags.emplace_back(k, v);
  }
  std::vector<std::string> args = {"--no-cache"};
  for (const auto& [k, v] : flags) args.insert(args.end(), {k, v});
  return args;
}

TEST(PretrainLm, TrainsAndSavesAModelDirectory) {
  TempDir dir("ptlm");
  write_text(dir / "corpus.txt", sample_text(20000));
  std::vector<std::string> args = tiny_args(dir);
  args.insert(args.end(), {"--out", dir / "run", "--eval-every", "2"});
  const RunResult r = run_program("pretrain_lm", args);
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = r.last_json();
  for (const char* k : {"eval_loss", "eval_ppl", "eval_bits_per_byte", "trainable_params", "total_params", "seconds", "model_dir"})
    EXPECT_TRUE(j.contains(k)) << k << " missing from " << j.dump();
  mamba::MambaConfig c = mamba::mamba_preset("mamba-tiny");
  c.d_model = 16;
  c.n_layer = 1;
  c.vocab_size = 257;  // 256 bytes + <|endoftext|>, padded to 264
  EXPECT_EQ(j.at("total_params"), lm_param_count(c));
  EXPECT_EQ(j.at("trainable_params"), j.at("total_params"));
  EXPECT_NEAR(j.at("eval_bits_per_byte").get<double>(), j.at("eval_loss").get<double>() / std::log(2.0), 1e-9);
  for (const char* f : {"config.json", "metrics.jsonl", "curves.png", "checkpoint/train_state.json", "model/config.json",
                        "model/model.safetensors", "model/tokenizer.json"})
    EXPECT_TRUE(std::filesystem::exists(dir / ("run/" + std::string(f)))) << f;
  // two evaluations (steps 2 and 4) in the metrics
  int evals = 0;
  std::istringstream metrics(read_text(dir / "run/metrics.jsonl"));
  for (std::string line; std::getline(metrics, line);) evals += json::parse(line).contains("eval_loss");
  EXPECT_EQ(evals, 2);

  // the directory loads as an HF MambaLM with the 257-token tokenizer, eos = <|endoftext|>
  auto model = mamba::load_mamba_lm(dir / "run/model");
  EXPECT_EQ(model->config().vocab_size, 257);
  EXPECT_EQ(model->config().eos_token_id, 256);
  auto tok = datasets::load_tokenizer(dir / "run/model/tokenizer.json");
  EXPECT_EQ(tok->vocab_size(), 257);
  EXPECT_EQ(tok->token_to_id("<|endoftext|>"), 256);
  EXPECT_EQ(tok->encode("Ab"), (std::vector<int64_t>{'A', 'b'}));
  // and generate runs on it
  const RunResult g = run_program("generate", {"--model", dir / "run/model", "--prompt", "the ", "--max-new-tokens", "5",
                                               "--json", "--device", "cpu"});
  EXPECT_EQ(g.rc, 0) << g.err;
}

TEST(PretrainLm, ResumeContinuesExactly) {
  TempDir dir("ptlm");
  write_text(dir / "corpus.txt", sample_text(20000, 2));
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = tiny_args(dir);
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const RunResult straight = run_program("pretrain_lm", args({"--out", dir / "straight", "--eval-every", "2"}));
  ASSERT_EQ(straight.rc, 0) << straight.err;
  const RunResult stopped = run_program("pretrain_lm", args({"--out", dir / "resumed", "--eval-every", "2", "--stop-after", "2"}));
  ASSERT_EQ(stopped.rc, 0) << stopped.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "resumed/model"));
  const RunResult resumed = run_program("pretrain_lm", {"--resume", dir / "resumed", "--device", "cpu", "--threads", "2"});
  ASSERT_EQ(resumed.rc, 0) << resumed.err;
  EXPECT_EQ(resumed.last_json().at("eval_loss").get<double>(), straight.last_json().at("eval_loss").get<double>());
  EXPECT_TRUE(std::filesystem::exists(dir / "resumed/model/model.safetensors"));
}

TEST(PretrainLm, BadInputIsOneLineError) {
  TempDir dir("ptlm");
  write_text(dir / "corpus.txt", sample_text(20000));
  write_text(dir / "small.txt", "too short");
  auto fails = [&](const std::map<std::string, std::string>& over, const std::string& part) {
    SCOPED_TRACE(part);
    expect_one_line_error(run_program("pretrain_lm", tiny_args(dir, over)), "pretrain_lm", part);
  };
  fails({{"--data", dir / "absent.txt"}}, "absent.txt");
  fails({{"--data", dir / "small.txt"}}, "too few");
  fails({{"--preset", "mamba-huge"}}, "mamba-huge");
  fails({{"--config-set", "d_modl=3"}}, "d_modl");
  fails({{"--tokenizer", dir / "nope.json"}}, "nope.json");
  fails({{"--seq-len", "1"}}, "--seq-len");
  EXPECT_EQ(run_program("pretrain_lm", {"--help"}).rc, 0);
}

}  // namespace
