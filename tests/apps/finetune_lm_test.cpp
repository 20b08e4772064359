// finetune_lm_test.cpp: the `finetune_lm` program end to end on tiny models: --dry-run parameter counts
// against the architecture's formulas, --eval-only reproducing the loss of the transformers fixture
// tests/data/mamba_hf_tiny and mamba::next_token_loss, a JSONL task run (JSON contract, run-directory
// files, the saved adapter and the merged model giving the run's own evaluation), --resume after an
// interruption reproducing the uninterrupted run, and bad input as one-line errors.
#include <gtest/gtest.h>

#include <cmath>

#include "datasets/bpe_tokenizer.h"
#include "lm_apps_test_util.h"
#include "mamba/api.h"
#include "nn/safetensors.h"
#include "tensor/storage.h"

namespace {
using namespace lm_apps_test;
using nlohmann::json;

const std::vector<std::string> kCpu = {"--device", "cpu", "--threads", "2"};

std::vector<std::string> with_cpu(std::vector<std::string> args) {
  args.insert(args.end(), kCpu.begin(), kCpu.end());
  return args;
}

json run_ok(const std::vector<std::string>& args) {
  const RunResult r = run_program("finetune_lm", with_cpu(args));
  EXPECT_EQ(r.rc, 0) << r.err;
  const json j = r.last_json();
  EXPECT_TRUE(j.is_object()) << r.out;
  return j.is_object() ? j : json::object();
}

// A task folder the tiny model can learn something from: the answer is " yes" when the prompt holds
// an 'a', else " no".
void write_task(const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::string train, test, choices;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 48; ++i) {
    std::string text;
    for (int k = 0; k < 10; ++k) text += "abcxyz"[rng() % (i % 2 ? 6 : 3) + (i % 2 ? 0 : 3)];
    const bool yes = text.find('a') != std::string::npos;
    const json pa = {{"prompt", "Q: " + text + "\nA:"}, {"answer", yes ? " yes" : " no"}};
    const json mc = {{"context", "Q: " + text + "\nA:"}, {"choices", {"no", "yes"}}, {"label", yes ? 1 : 0}};
    (i < 32 ? train : test) += pa.dump() + "\n";
    if (i >= 32) choices += mc.dump() + "\n";
  }
  write_text(dir + "/train.jsonl", train);
  write_text(dir + "/test.jsonl", test);
  write_text(dir + "/test_choices.jsonl", choices);
}

TEST(FinetuneLm, DryRunParameterCounts) {
  TempDir dir("ftlm");
  auto model = make_byte_lm_dir(dir / "lm");
  const mamba::MambaConfig& c = model->config();
  const int64_t base = lm_param_count(c);
  const int64_t d = c.d_model, E = c.inner(), L = c.n_layer;

  const json full = run_ok({"--model", dir / "lm", "--dry-run", "--peft", "full"});
  EXPECT_EQ(full.at("total_params"), base);
  EXPECT_EQ(full.at("trainable_params"), base);

  // LoRA rank r on in_proj (d -> 2E) and out_proj (E -> d): r (d + 2E) + r (E + d) per layer
  const json lora = run_ok({"--model", dir / "lm", "--dry-run", "--peft", "lora", "--rank", "4"});
  const int64_t lora_params = L * (4 * (d + 2 * E) + 4 * (E + d));
  EXPECT_EQ(lora.at("trainable_params"), lora_params);
  EXPECT_EQ(lora.at("total_params"), base + lora_params);
  EXPECT_EQ(lora.at("adapted").size(), static_cast<size_t>(2 * L));

  // head: the lm_head, tied to the embedding, Vp x d
  const json head = run_ok({"--model", dir / "lm", "--dry-run", "--peft", "head"});
  EXPECT_EQ(head.at("trainable_params"), c.padded_vocab() * d);
  EXPECT_EQ(head.at("total_params"), base);

  const json pd = run_ok({"--model", dir / "lm", "--dry-run"});  // ProDiaL is the default
  EXPECT_EQ(pd.at("method"), "prodial");
  EXPECT_GT(pd.at("trainable_params").get<int64_t>(), 0);
  EXPECT_LT(pd.at("trainable_params").get<int64_t>(), base / 2);
  EXPECT_EQ(pd.at("adapted").size(), static_cast<size_t>(2 * L));
}

// tests/data/mamba_hf_tiny holds transformers' loss of two random rows of 12 ids (vocabulary 64). A
// tokenizer.json whose 64 tokens are the characters '!'..'`' turns each row into a text file; the mean
// of the two rows' --eval-only losses (11 predictions each) is the fixture's loss.
TEST(FinetuneLm, EvalOnlyReproducesTheTransformersFixtureLoss) {
  TempDir dir("ftlm");
  const std::string fixture = std::string(PM_TEST_DATA_DIR) + "/mamba_hf_tiny";
  json tok = json::parse(datasets::byte_level_tokenizer_json());
  json vocab = json::object();
  for (int i = 0; i < 64; ++i) vocab[std::string(1, static_cast<char>('!' + i))] = i;
  tok["model"]["vocab"] = vocab;
  write_text(dir / "tokenizer.json", tok.dump());
  nn::SafetensorsFile fx(fixture + "/fixtures.safetensors");
  const tensor::Tensor ids = fx.load("input_ids");
  const double want = fx.load("loss").to_vector().at(0);
  double sum = 0;
  for (int64_t row = 0; row < ids.size(0); ++row) {
    std::string text;
    for (int64_t t = 0; t < ids.size(1); ++t) text += static_cast<char>('!' + static_cast<int>(ids.at({row, t})));
    const std::string file = dir / ("row" + std::to_string(row) + ".txt");
    write_text(file, text);
    const json j = run_ok({"--model", fixture, "--tokenizer", dir / "tokenizer.json", "--data", file, "--eval-only"});
    EXPECT_EQ(j.at("eval_tokens"), ids.size(1) - 1);
    EXPECT_EQ(j.at("trainable_params"), j.at("total_params"));  // no adapter: the model as it is
    sum += j.at("eval_loss").get<double>();
  }
  EXPECT_NEAR(sum / static_cast<double>(ids.size(0)), want, 1e-4 * std::fabs(want));
}

// On a longer text with a short --seq-len, eval_loss is mamba::next_token_loss over windows of
// seq_len + 1 tokens (computed there one window at a time, here in batches).
TEST(FinetuneLm, EvalOnlyTextEqualsLibraryWindowedLoss) {
  TempDir dir("ftlm");
  auto model = make_byte_lm_dir(dir / "lm");
  const std::string text = sample_text(203);
  write_text(dir / "eval.txt", text);
  const json j = run_ok({"--model", dir / "lm", "--data", dir / "eval.txt", "--eval-only", "--seq-len", "16", "--batch-size", "3"});
  datasets::ByteTokenizer bytes;
  const mamba::LossResult want = mamba::next_token_loss(*model, bytes.encode(text), 17);
  EXPECT_EQ(j.at("eval_tokens"), want.predicted);
  EXPECT_NEAR(j.at("eval_loss").get<double>(), want.mean_loss, 1e-5 * want.mean_loss);
}

TEST(FinetuneLm, TaskRunAdapterAndMergedModel) {
  TempDir dir("ftlm");
  make_byte_lm_dir(dir / "lm");
  write_task(dir / "task");
  const json j = run_ok({"--model", dir / "lm", "--data", dir / "task", "--peft", "lora", "--rank", "2", "--steps", "4",
                         "--batch-size", "4", "--seq-len", "32", "--out", dir / "run", "--save-merged", dir / "merged"});
  for (const char* k : {"eval_loss", "acc", "acc_norm", "trainable_params", "total_params", "seconds", "steps"})
    EXPECT_TRUE(j.contains(k)) << k << " missing from " << j.dump();
  EXPECT_EQ(j.at("steps"), 4);
  EXPECT_GE(j.at("acc").get<double>(), 0.0);
  EXPECT_LE(j.at("acc").get<double>(), 1.0);
  for (const char* f : {"config.json", "metrics.jsonl", "curves.png", "adapter/adapter_config.json",
                        "adapter/adapter_model.safetensors", "checkpoint/train_state.json"})
    EXPECT_TRUE(std::filesystem::exists(dir / ("run/" + std::string(f)))) << f;
  const json cfg = json::parse(read_text(dir / "run/config.json"));
  EXPECT_EQ(cfg.at("flags").at("rank"), 2);
  EXPECT_EQ(cfg.at("flags").at("peft"), "lora");
  EXPECT_EQ(cfg.at("flags").at("seq-len"), 32);
  // the metrics end with the final evaluation
  const std::string metrics = read_text(dir / "run/metrics.jsonl");
  EXPECT_NE(metrics.find("\"acc\""), std::string::npos);

  // the adapter loaded onto the base model, and the merged directory alone, give the run's evaluation
  const json ad = run_ok({"--model", dir / "lm", "--adapter", dir / "run/adapter", "--data", dir / "task", "--eval-only",
                          "--seq-len", "32", "--batch-size", "4"});
  EXPECT_NEAR(ad.at("eval_loss").get<double>(), j.at("eval_loss").get<double>(), 1e-5);
  EXPECT_EQ(ad.at("acc"), j.at("acc"));
  EXPECT_EQ(ad.at("trainable_params"), j.at("trainable_params"));
  ASSERT_TRUE(std::filesystem::exists(dir / "merged/tokenizer.json"));
  const json mg = run_ok({"--model", dir / "merged", "--data", dir / "task", "--eval-only", "--seq-len", "32", "--batch-size", "4"});
  EXPECT_NEAR(mg.at("eval_loss").get<double>(), j.at("eval_loss").get<double>(), 1e-4);
  EXPECT_EQ(mg.at("acc"), j.at("acc"));
  EXPECT_EQ(mg.at("total_params"), lm_param_count(mamba::load_mamba_lm(dir / "merged")->config()));
}

// --compare: every method on the same batches, each in <out>/<method>, then the table.
// On a GPU: a short ProDiaL task run gives the CPU's evaluation (skips without one).
TEST(FinetuneLm, CudaRunMatchesTheCpu) {
  if (!tensor::cuda_available()) GTEST_SKIP() << "no CUDA GPU available (or built without CUDA)";
  TempDir dir("ftlm");
  make_byte_lm_dir(dir / "lm");
  write_task(dir / "task");
  const std::vector<std::string> args = {"--model", dir / "lm", "--data", dir / "task", "--steps", "4", "--batch-size", "4",
                                         "--seq-len", "32", "--lora-dropout", "0", "--threads", "2"};
  auto run_on = [&](const std::string& device) {
    std::vector<std::string> a = args;
    a.insert(a.end(), {"--device", device, "--out", dir / device});
    const RunResult r = run_program("finetune_lm", a);
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.last_json();
  };
  const json g = run_on("cuda"), c = run_on("cpu");
  ASSERT_TRUE(g.is_object() && c.is_object());
  EXPECT_NEAR(g.at("eval_loss").get<double>(), c.at("eval_loss").get<double>(),
              1e-3 * std::max(1.0, std::fabs(c.at("eval_loss").get<double>())));
  EXPECT_EQ(g.at("acc"), c.at("acc"));
}

TEST(FinetuneLm, CompareWritesATableAndOneRunPerMethod) {
  TempDir dir("ftlm");
  make_byte_lm_dir(dir / "lm");
  write_task(dir / "task");
  const RunResult r = run_program("finetune_lm", with_cpu({"--model", dir / "lm", "--data", dir / "task", "--steps", "2",
                                                           "--batch-size", "4", "--seq-len", "32", "--compare", "head,full",
                                                           "--out", dir / "cmp"}));
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = r.last_json();
  ASSERT_EQ(j.at("comparison").size(), 3u);
  std::vector<std::string> methods;
  for (const auto& row : j.at("comparison")) methods.push_back(row.at("method"));
  EXPECT_EQ(methods, (std::vector<std::string>{"prodial", "head", "full"}));
  EXPECT_EQ(j.at("comparison")[2].at("trainable_percent"), 100.0);
  const std::string table = read_text(dir / "cmp/comparison.md");
  for (const auto& m : methods) {
    EXPECT_NE(table.find("| " + m + " |"), std::string::npos) << table;
    EXPECT_TRUE(std::filesystem::exists(dir / ("cmp/" + m + "/adapter/adapter_config.json"))) << m;
    EXPECT_TRUE(std::filesystem::exists(dir / ("cmp/" + m + "/curves.png"))) << m;
  }
  EXPECT_NE(r.out.find("| method | acc | acc_norm |"), std::string::npos);
  // the comparison runs fresh trainings only
  expect_one_line_error(run_program("finetune_lm", with_cpu({"--model", dir / "lm", "--data", dir / "task", "--compare", "lora",
                                                             "--eval-only"})),
                        "finetune_lm", "--compare");
}

TEST(FinetuneLm, TextTrainingReportsPerplexity) {
  TempDir dir("ftlm");
  make_byte_lm_dir(dir / "lm");
  write_text(dir / "text.txt", sample_text(4000));
  const json j = run_ok({"--model", dir / "lm", "--data", dir / "text.txt", "--steps", "3", "--batch-size", "2",
                         "--seq-len", "32", "--peft", "prodial", "--out", dir / "run"});
  EXPECT_TRUE(j.contains("eval_ppl")) << j.dump();
  EXPECT_NEAR(j.at("eval_ppl").get<double>(), std::exp(j.at("eval_loss").get<double>()), 1e-9 * j.at("eval_ppl").get<double>());
  EXPECT_FALSE(j.contains("acc"));
}

// With LoRA dropout on: the adapters' dropout generator is part of the checkpoint.
TEST(FinetuneLm, ResumeContinuesExactly) {
  TempDir dir("ftlm");
  make_byte_lm_dir(dir / "lm");
  write_task(dir / "task");
  const std::vector<std::string> args = {"--model", dir / "lm", "--data", dir / "task", "--steps", "6", "--batch-size", "4",
                                         "--seq-len", "32", "--eval-every", "3", "--seed", "5", "--lora-dropout", "0.2"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = args;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const json straight = run_ok(with({"--out", dir / "straight"}));
  const json stopped = run_ok(with({"--out", dir / "resumed", "--stop-after", "3"}));
  EXPECT_EQ(stopped.value("stopped", false), true);
  EXPECT_FALSE(std::filesystem::exists(dir / "resumed/adapter"));
  // another configuration is refused
  const RunResult bad = run_program("finetune_lm", with_cpu({"--resume", dir / "resumed", "--lr", "0.5"}));
  expect_one_line_error(bad, "finetune_lm", "--lr");
  const json resumed = run_ok({"--resume", dir / "resumed"});
  EXPECT_EQ(resumed.at("steps"), 6);
  EXPECT_EQ(resumed.at("eval_loss").get<double>(), straight.at("eval_loss").get<double>());
  EXPECT_EQ(resumed.at("acc"), straight.at("acc"));
}

TEST(FinetuneLm, BadInputIsOneLineError) {
  TempDir dir("ftlm");
  make_byte_lm_dir(dir / "lm");
  make_byte_lm_dir(dir / "wide", 7, 24, 2);
  write_task(dir / "task");
  auto fails = [&](std::vector<std::string> args, const std::string& part) {
    SCOPED_TRACE(part);
    expect_one_line_error(run_program("finetune_lm", with_cpu(std::move(args))), "finetune_lm", part);
  };
  fails({"--model", dir / "missing", "--dry-run"}, "missing");
  fails({"--model", std::string(PM_TEST_DATA_DIR) + "/vim_tiny", "--dry-run"}, "Vision Mamba");
  fails({"--model", dir / "lm", "--dry-run", "--peft", "magic"}, "--peft");
  fails({"--model", dir / "lm", "--data", dir / "nothing.txt", "--eval-only"}, "nothing.txt");
  fails({"--model", dir / "lm", "--data", dir / "task/test_choices.jsonl", "--steps", "1"}, "multiple-choice");
  write_text(dir / "broken.jsonl", "{\"prompt\": \"x\", \"answer\": \"y\"}\nnot json\n");
  fails({"--model", dir / "lm", "--data", dir / "broken.jsonl", "--steps", "1"}, "broken.jsonl:2");
  // an adapter trained on a d_model 16 model does not fit a d_model 24 one
  run_ok({"--model", dir / "lm", "--data", dir / "task", "--steps", "1", "--batch-size", "4", "--seq-len", "16", "--out", dir / "run"});
  fails({"--model", dir / "wide", "--adapter", dir / "run/adapter", "--data", dir / "task", "--eval-only"}, "adapter");
  // a run directory is never reused
  fails({"--model", dir / "lm", "--data", dir / "task", "--steps", "1", "--out", dir / "run"}, "--out");
  const RunResult help = run_program("finetune_lm", {"--help"});
  EXPECT_EQ(help.rc, 0);
  for (const char* flag : {"--peft", "--rb-in", "--eval-only", "--dry-run", "--save-merged", "--resume", "--seq-len", "--adapter"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
}

}  // namespace
