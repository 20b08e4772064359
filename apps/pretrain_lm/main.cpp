// main.cpp: `pretrain_lm`, trains a MambaLM preset from scratch on the installed text corpora
// (byte-level tokens by default: the 256 bytes plus <|endoftext|> between documents) and saves a
// Hugging Face layout model directory with its tokenizer.json, ready for generate and finetune_lm.
// Training batches are random windows of the corpus stream drawn from (seed, step) alone, so --resume
// continues exactly; validation is 1% of the stream in blocks spread over every corpus.
#include <cmath>
#include <filesystem>
#include <sstream>

#include "apps/common/cli.h"
#include "apps/common/program.h"
#include "apps/common/run_dir.h"
#include "apps/common/trainer.h"
#include "apps/generate/lm_dir.h"
#include "apps/pretrain_lm/corpus.h"
#include "datasets/bpe_tokenizer.h"
#include "datasets/data_paths.h"
#include "datasets/rng.h"
#include "datasets/token_cache.h"
#include "mamba/checkpoint.h"
#include "mamba/config.h"
#include "mamba/lm.h"
#include "tensor/ops.h"

namespace fs = std::filesystem;

namespace {

struct Flags {
  apps::CommonFlags common;
  apps::TrainFlags train;
  std::string preset = "mamba-demo", config_set, data = "moby-dick,sotu,fortunes-en", tokenizer = "bytes", save;
  int64_t d_model = 128, n_layer = 3, d_state = 0, seq_len = 256, eval_tokens = 16384;
  double held_out = 0.01;
  bool no_cache = false;
};

// Windows [n, seq_len + 1] of `stream` starting at `starts`, as int64 ids on `dev`.
tensor::Tensor windows(const std::vector<int32_t>& stream, const std::vector<int64_t>& starts, int64_t seq_len,
                       tensor::Device dev) {
  std::vector<int64_t> ids;
  ids.reserve(starts.size() * static_cast<size_t>(seq_len + 1));
  for (int64_t s : starts) ids.insert(ids.end(), stream.begin() + s, stream.begin() + s + seq_len + 1);
  return tensor::from_vector(ids, {static_cast<int64_t>(starts.size()), seq_len + 1}).to(dev);
}

std::string hex(uint64_t v) {
  std::ostringstream ss;
  ss << std::hex << v;
  return ss.str();
}

int run(CLI::App& app, Flags& f) {
  const bool resume = apps::prepare_run(app, f.common, f.train, "pretrain_lm");
  apps::validate_train_flags(f.train);
  if (f.seq_len < 2) throw std::invalid_argument("--seq-len must be >= 2, got " + std::to_string(f.seq_len));
  if (!(f.held_out > 0 && f.held_out < 0.5)) throw std::invalid_argument("--held-out must be in (0, 0.5)");
  if (f.eval_tokens < f.seq_len) throw std::invalid_argument("--eval-tokens must be >= --seq-len");
  const tensor::Device dev = f.common.dev;

  // ---- tokenizer and corpus ----
  std::shared_ptr<datasets::Tokenizer> tok;
  if (f.tokenizer == "bytes") {
    tok = datasets::BpeTokenizer::from_json(datasets::byte_level_tokenizer_json({lmapps::kEndOfText}), "byte-level tokenizer");
  } else {
    if (!fs::exists(f.tokenizer)) throw std::invalid_argument("--tokenizer: no such file " + f.tokenizer);
    tok = datasets::load_tokenizer(f.tokenizer);
  }
  const int64_t eos = tok->token_to_id(lmapps::kEndOfText);
  std::vector<std::string> files;
  for (const auto& name : apps::split_list(f.data)) {
    auto more = pretrain_lm::corpus_files(name);
    files.insert(files.end(), more.begin(), more.end());
  }
  if (files.empty()) throw std::invalid_argument("--data: no corpus given");
  const std::vector<int64_t> sep = eos >= 0 ? std::vector<int64_t>{eos} : std::vector<int64_t>{};
  std::string cache;
  if (!f.no_cache) {
    fs::create_directories(datasets::data_path("cache"));
    cache = datasets::data_path("cache/lm-" + hex(datasets::corpus_source_hash(files, *tok, sep)) + ".tokens");
  }
  bool from_cache = false;
  const std::vector<int32_t> stream = datasets::tokenize_corpus(files, *tok, cache, sep, &from_cache);
  std::vector<int32_t> train, valid;
  // blocks of 8192 tokens, smaller for small corpora (at least 100 blocks, each longer than a window)
  const int64_t block = std::min<int64_t>(8192, std::max<int64_t>(2 * (f.seq_len + 1), static_cast<int64_t>(stream.size()) / 100));
  pretrain_lm::split_stream(stream, f.held_out, block, train, valid);
  if (static_cast<int64_t>(train.size()) <= f.seq_len + 1 || static_cast<int64_t>(valid.size()) <= f.seq_len + 1)
    throw std::invalid_argument("--data: " + std::to_string(stream.size()) + " tokens are too few for --seq-len " +
                                std::to_string(f.seq_len) + " (training " + std::to_string(train.size()) + ", validation " +
                                std::to_string(valid.size()) + ")");
  std::fprintf(stderr, "pretrain_lm: %zu files, %zu tokens (%s), %zu for training, %zu for validation\n", files.size(),
               stream.size(), from_cache ? "from the cache" : "tokenized", train.size(), valid.size());

  // ---- model ----
  mamba::MambaConfig cfg = mamba::mamba_preset(f.preset);
  if (f.d_model > 0) cfg.d_model = f.d_model;
  if (f.n_layer > 0) cfg.n_layer = f.n_layer;
  if (f.d_state > 0) cfg.d_state = f.d_state;
  for (const auto& kv : apps::split_list(f.config_set)) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("--config-set: expected field=value, got '" + kv + "'");
    mamba::set_field(cfg, kv.substr(0, eq), kv.substr(eq + 1));
  }
  cfg.vocab_size = tok->vocab_size();
  if (eos >= 0) cfg.bos_token_id = cfg.eos_token_id = cfg.pad_token_id = eos;
  cfg.validate();
  tensor::Generator init_gen(f.common.seed);
  mamba::MambaLM model(cfg, &init_gen);
  model.to(dev);
  const int64_t total_params = model.num_parameters();

  apps::RunDir run(f.common.out, resume);
  if (!resume) {
    nlohmann::json config = apps::base_config(app, f.common);
    config["model_config"] = mamba::to_json(cfg);
    config["corpus"] = {{"files", files.size()}, {"tokens", stream.size()}, {"train_tokens", train.size()}, {"valid_tokens", valid.size()}};
    run.write_config(config);
  }

  // ---- training ----
  const int64_t B = f.train.batch_size, T = f.seq_len;
  const int64_t batches_per_epoch = std::max<int64_t>(1, static_cast<int64_t>(train.size()) / (B * T));
  apps::TrainerOptions topt =
      apps::trainer_options("pretrain_lm", f.train, apps::total_steps(f.train, batches_per_epoch), f.train.lr);
  topt.unit = "tokens";
  topt.metric = "eval_ppl";
  const uint64_t data_seed = f.common.seed;
  auto loss_fn = [&](int64_t step) {
    std::vector<int64_t> starts;
    const int64_t span = static_cast<int64_t>(train.size()) - (T + 1);
    for (int64_t i = 0; i < B; ++i) {
      datasets::Rng rng = datasets::Rng::for_example(data_seed, static_cast<uint64_t>(step), i);
      starts.push_back(rng.randint(0, span + 1));
    }
    return apps::StepResult{model.next_token_loss(windows(train, starts, T, dev)), B * T};
  };
  auto eval_fn = [&]() {
    const int64_t n = std::min(f.eval_tokens / T, (static_cast<int64_t>(valid.size()) - 1) / T);
    double sum = 0;
    for (int64_t w0 = 0; w0 < n; w0 += B) {
      std::vector<int64_t> starts;
      for (int64_t w = w0; w < std::min(n, w0 + B); ++w) starts.push_back(w * T);
      sum += model.next_token_loss(windows(valid, starts, T, dev)).data().to_vector().at(0) * static_cast<double>(starts.size());
    }
    apps::EvalResult r;
    r.loss = sum / static_cast<double>(n);
    r.extra["eval_ppl"] = std::exp(r.loss);
    if (f.tokenizer == "bytes") r.extra["eval_bits_per_byte"] = r.loss / std::log(2.0);
    return r;
  };
  apps::Trainer trainer(model, topt, run);
  const apps::TrainResult res = trainer.run(loss_fn, eval_fn, resume);
  if (res.stopped) {  // as if interrupted: the checkpoint is there for --resume, no model directory yet
    apps::print_result({{"stopped", true}, {"steps", res.steps}, {"run_dir", run.path()}});
    return 0;
  }

  // ---- the model directory ----
  const std::string save = f.save.empty() ? run.file("model") : f.save;
  model.to(tensor::Device::cpu());
  lmapps::save_lm_dir(model, save, f.tokenizer, {lmapps::kEndOfText});
  std::fprintf(stderr, "pretrain_lm: saved %s\n", save.c_str());

  nlohmann::json out = res.eval.json();
  out.update(apps::param_counts(model.num_trainable_parameters(), total_params));
  out["steps"] = res.steps;
  out["seconds"] = res.seconds;
  out["tokens_per_s"] = res.seconds > 0 ? static_cast<double>(res.steps * B * T) / res.seconds : 0.0;
  out["train_loss"] = res.last_loss;
  out["model_dir"] = save;
  out["run_dir"] = run.path();
  apps::print_result(out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  // the defaults are the recipe of models/lm-byte-small (models/README.md)
  f.train.steps = 1000;
  f.train.batch_size = 8;
  f.train.lr = 3e-3;
  f.train.weight_decay = 0.1;
  f.train.warmup = 30;
  f.train.eval_every = 200;
  CLI::App app{"pretrain_lm: train a MambaLM preset from scratch on the installed text corpora and save a model "
               "directory (HF layout + tokenizer.json)",
               "pretrain_lm"};
  apps::capture_defaults(app);
  app.add_option("--preset", f.preset, "model preset (mamba/config.h: mamba-demo, mamba-tiny, mamba-130m, ...)");
  app.add_option("--d-model", f.d_model, "override the preset's d_model (0: keep)")->check(CLI::NonNegativeNumber);
  app.add_option("--n-layer", f.n_layer, "override the preset's layer count (0: keep)")->check(CLI::NonNegativeNumber);
  app.add_option("--d-state", f.d_state, "override the preset's d_state (0: keep)")->check(CLI::NonNegativeNumber);
  app.add_option("--config-set", f.config_set, "more config fields, 'field=value,field=value' (mamba/config.h names)");
  app.add_option("--data", f.data,
                 "comma-separated corpora: moby-dick, sotu, fortunes-en, kjv, gcide (scripts/get-data.sh), or text "
                 "files / folders of .txt files");
  app.add_option("--tokenizer", f.tokenizer, "'bytes' (256 bytes + <|endoftext|>) or a tokenizer.json");
  app.add_option("--seq-len", f.seq_len, "tokens per training window")->check(CLI::PositiveNumber);
  app.add_option("--held-out", f.held_out, "fraction of the token stream kept for validation");
  app.add_option("--eval-tokens", f.eval_tokens, "validation tokens scored at each evaluation")->check(CLI::PositiveNumber);
  app.add_option("--save", f.save, "where to write the model directory (default: <run dir>/model)");
  app.add_flag("--no-cache", f.no_cache, "tokenize the corpus again instead of using data/cache");
  apps::add_train_flags(app, f.train);
  apps::add_common_flags(app, f.common);
  return apps::run_program(app, argc, argv, [&] { return run(app, f); });
}
