// main.cpp: `generate`, text from a Mamba language model directory. The prompt runs through the model
// once (prefill), then each new token costs one recurrent step (mamba/decode.h); its text is written to
// stdout as soon as it is chosen. With --json the last stdout line is {"ids": [...], "text": ...}.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apps/common/cli.h"
#include "apps/common/program.h"
#include "apps/common/run_dir.h"
#include "apps/generate/lm_dir.h"
#include "mamba/decode.h"
#include "tensor/ops.h"

namespace {

struct Flags {
  apps::CommonFlags common;
  std::string model, prompt, tokenizer;
  int64_t max_new_tokens = 64, top_k = 0;
  bool greedy = false, json = false, ignore_eos = false, no_echo = false;
  double temperature = 1.0, top_p = 1.0;
};

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

int run(const CLI::App& app, Flags& f) {
  const bool out_given = !f.common.out.empty();
  if (f.max_new_tokens < 0) throw std::invalid_argument("--max-new-tokens must be >= 0, got " + std::to_string(f.max_new_tokens));
  if (!(f.temperature >= 0)) throw std::invalid_argument("--temperature must be >= 0, got " + std::to_string(f.temperature));
  if (f.top_k < 0) throw std::invalid_argument("--top-k must be >= 0, got " + std::to_string(f.top_k));
  if (!(f.top_p > 0 && f.top_p <= 1)) throw std::invalid_argument("--top-p must be in (0, 1], got " + std::to_string(f.top_p));
  apps::resolve_common_flags(f.common, "generate");
  const tensor::Device device = f.common.dev;
  lmapps::LmDir lm = lmapps::load_lm_dir(f.model, f.tokenizer);
  mamba::MambaLM& model = *lm.model;
  model.eval();
  if (device.is_cuda()) model.to(device);

  const mamba::MambaConfig& cfg = model.config();
  std::vector<int64_t> prompt = lm.tokenizer->encode(f.prompt);
  if (prompt.empty()) prompt.push_back(cfg.bos_token_id);  // unconditional: start a document
  for (int64_t id : prompt)
    if (id >= cfg.vocab_size)
      throw std::runtime_error("--prompt: token id " + std::to_string(id) + " is outside the model's vocabulary of " +
                               std::to_string(cfg.vocab_size));

  mamba::SamplingOptions opt;
  opt.max_new_tokens = f.max_new_tokens;
  opt.greedy = f.greedy;
  opt.temperature = f.temperature;
  opt.top_k = f.top_k;
  opt.top_p = f.top_p;
  if (!f.ignore_eos) opt.eos_token_id = cfg.eos_token_id;
  tensor::Generator gen(f.common.seed);
  // Rows past the tokenizer's vocabulary (padding, untrained) are never sampled.
  const int64_t usable = std::min<int64_t>(lm.tokenizer->vocab_size(), cfg.vocab_size);

  if (!f.no_echo) {
    std::fwrite(f.prompt.data(), 1, f.prompt.size(), stdout);
    std::fflush(stdout);
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int64_t> fresh;
  std::string text;
  if (opt.max_new_tokens > 0) {
    mamba::InferenceCache cache;
    const int64_t L = static_cast<int64_t>(prompt.size());
    tensor::Tensor logits = model.prefill(tensor::from_vector(prompt, {1, L}).to(device), cache);  // [1, V]
    for (int64_t step = 0; step < opt.max_new_tokens; ++step) {
      tensor::Tensor row = logits.select(0, 0).to(tensor::Device::cpu());
      if (usable < row.size(0)) row = row.narrow(0, 0, usable);
      const int64_t next = mamba::sample_next(row, opt, gen);
      fresh.push_back(next);
      const std::string piece = lm.tokenizer->decode({next});
      text += piece;
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      if ((opt.eos_token_id && next == *opt.eos_token_id) || step + 1 == opt.max_new_tokens) break;
      logits = model.step(tensor::from_vector(std::vector<int64_t>{next}, {1}).to(device), cache);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fputc('\n', stdout);
  std::fprintf(stderr, "generate: %zu prompt tokens, %zu new tokens in %.2f s (%.1f tokens/s) on %s\n", prompt.size(),
               fresh.size(), seconds, seconds > 0 ? static_cast<double>(fresh.size()) / seconds : 0.0, device.str().c_str());

  nlohmann::json result = {{"ids", fresh}, {"text", text}, {"prompt_tokens", prompt.size()},
                           {"new_tokens", fresh.size()}, {"seconds", seconds}};
  if (out_given) {  // a run directory only when asked for
    apps::RunDir run(f.common.out, false);
    run.write_config({{"program", "generate"}, {"flags", apps::flags_json(app)}, {"given", apps::given_flags(app)}});
    apps::write_file_atomic(run.file("generation.json"), dump(result) + "\n");
  }
  if (f.json) {
    std::printf("%s\n", dump(result).c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"generate: text from a Mamba language model directory (HF layout with tokenizer.json), "
               "streamed to stdout as it is produced",
               "generate"};
  apps::capture_defaults(app);
  app.add_option("--model", f.model, "model directory (config.json, model.safetensors, tokenizer.json)")->required();
  app.add_option("--prompt", f.prompt, "text to continue (empty: start from the bos token)")->required();
  app.add_option("--max-new-tokens", f.max_new_tokens, "tokens to generate at most");
  app.add_flag("--greedy", f.greedy, "always take the most likely token (same as --temperature 0)");
  app.add_option("--temperature", f.temperature, "divide the logits by this before sampling");
  app.add_option("--top-k", f.top_k, "sample among the k most likely tokens (0: all)");
  app.add_option("--top-p", f.top_p, "sample among the most likely tokens holding this much probability");
  app.add_flag("--ignore-eos", f.ignore_eos, "keep going after the end-of-text token");
  app.add_flag("--no-echo", f.no_echo, "do not print the prompt before the generated text");
  app.add_flag("--json", f.json, "print {\"ids\": [new ids], \"text\": ...} as the last stdout line");
  app.add_option("--tokenizer", f.tokenizer, "'bytes' or a tokenizer.json, instead of the model directory's");
  apps::add_common_flags(app, f.common);
  app.get_option("--out")->description("run directory for config.json and generation.json (default: none)");
  app.get_option("--seed")->description("seed of the sampling generator");
  return apps::run_program(app, argc, argv, [&] { return run(app, f); });
}
