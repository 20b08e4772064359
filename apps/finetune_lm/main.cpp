// main.cpp: `finetune_lm`, fine-tunes a MambaLM directory (HF layout with tokenizer.json) with a PEFT
// method (ProDiaL by default; prodial/peft.h) on a plain-text file (language-model loss), a JSONL
// task (loss on the answers only; multiple-choice files and task folders also report acc and
// acc_norm), or the built-in SpamAssassin / fortunes tasks. --eval-only evaluates (with --adapter, the
// adapted model), --dry-run prints the parameter summary, --save-merged writes a plain model
// directory, --resume continues a run exactly, --compare runs more methods on the same budget and
// prints a table. With no flags: ProDiaL on models/lm-byte-small, fine-tuned on the SpamAssassin task.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

#include "apps/common/cli.h"
#include "apps/common/compare.h"
#include "apps/common/program.h"
#include "apps/common/run_dir.h"
#include "apps/common/trainer.h"
#include "apps/finetune_lm/lm_data.h"
#include "apps/generate/lm_dir.h"
#include "mamba/config.h"
#include "prodial/peft.h"

namespace fs = std::filesystem;

namespace {

struct Flags {
  apps::CommonFlags common;
  apps::PeftFlags peft;
  apps::TrainFlags train;
  std::string model, preset, tokenizer, data = "spam-body", eval_data, adapter, save_merged, compare;
  int64_t seq_len = 256, eval_limit = 400;
  double held_out = 0.1;
  bool eval_only = false, dry_run = false;
};

// The learning rate of each method when --lr is 0 (the default): full fine-tuning moves every weight,
// so it takes smaller steps (tuned on the main job's SpamAssassin budget).
double default_lr(const std::string& method) { return method == "full" ? 1e-3 : 1e-2; }

std::string default_model_dir() {
  const std::string rel = "models/lm-byte-small";
  if (fs::exists(rel + "/config.json")) return rel;
  return std::string(PM_REPO_DIR) + "/" + rel;
}

// The base model and its tokenizer: --model (default models/lm-byte-small) or a fresh --preset.
lmapps::LmDir load_base(const Flags& f) {
  if (f.preset.empty()) return lmapps::load_lm_dir(f.model.empty() ? default_model_dir() : f.model, f.tokenizer);
  lmapps::LmDir lm;
  lm.tokenizer = lmapps::load_dir_tokenizer("", f.tokenizer.empty() ? "bytes" : f.tokenizer, &lm.tokenizer_source);
  mamba::MambaConfig cfg = mamba::mamba_preset(f.preset);
  cfg.vocab_size = lm.tokenizer->vocab_size();
  tensor::Generator gen(f.common.seed);
  lm.model = std::make_shared<mamba::MambaLM>(cfg, &gen);
  lm.dir = "preset:" + f.preset;
  return lm;
}

// --adapter's files onto the model, or `method` applied fresh.
prodial::PeftSummary attach_peft(mamba::MambaLM& model, const Flags& f, const std::string& method) {
  if (!f.adapter.empty()) {
    if (!fs::exists(f.adapter + "/adapter_config.json"))
      throw std::invalid_argument("--adapter: " + f.adapter + " has no adapter_config.json");
    return prodial::load_adapter(model, prodial::ModelKind::LanguageModel, f.adapter);
  }
  return prodial::apply_peft(model, prodial::ModelKind::LanguageModel, method, f.peft.opts);
}

void save_merged(mamba::MambaLM& model, const lmapps::LmDir& lm, const std::string& dir, bool adapted) {
  if (adapted) prodial::merge_peft(model);
  model.to(tensor::Device::cpu());
  lmapps::save_lm_dir(model, dir, lm.tokenizer_source);
  std::fprintf(stderr, "finetune_lm: merged model written to %s\n", dir.c_str());
}

finetune_lm::DataOptions data_options(const Flags& f) {
  finetune_lm::DataOptions d;
  d.seq_len = f.seq_len;
  d.held_out = f.held_out;
  d.eval_limit = f.eval_limit;
  d.batch_size = f.train.batch_size;
  d.seed = f.common.seed;
  return d;
}

// One fine-tuning run of `method` into run directory `out`; returns its final metrics.
nlohmann::json run_method(CLI::App& app, const Flags& f, const std::string& method, const std::string& out, bool resume,
                          const finetune_lm::LmData& data) {
  const auto t0 = std::chrono::steady_clock::now();
  lmapps::LmDir lm = load_base(f);
  mamba::MambaLM& model = *lm.model;
  prodial::PeftSummary summary = attach_peft(model, f, method);
  model.to(f.common.dev);
  apps::RunDir run(out, resume);
  const int64_t steps = apps::total_steps(f.train, data.batches_per_epoch());
  const double lr = f.train.lr > 0 ? f.train.lr : default_lr(method);
  if (!resume) {
    nlohmann::json config = apps::method_run_config(app, f.common, out, method, lr, summary);
    config["model"] = lm.dir;
    config["model_config"] = mamba::to_json(model.config());
    config["resolved"] = {{"lr", lr}, {"total_steps", steps}, {"data", data.describe()}};
    run.write_config(config);
  }
  std::fprintf(stderr, "finetune_lm: %s: %lld of %lld parameters trainable (%.2f%%), %lld steps at lr %g\n", method.c_str(),
               (long long)summary.trainable_params, (long long)summary.total_params, summary.trainable_percent(),
               (long long)steps, lr);

  apps::TrainerOptions topt = apps::trainer_options("finetune_lm", f.train, steps, lr);
  topt.unit = "tokens";
  topt.metric = data.has_choices() ? "acc" : "eval_ppl";
  auto loss_fn = [&](int64_t step) {
    const finetune_lm::LmData::Batch b = data.train_batch(step, f.common.dev);
    return apps::StepResult{model.loss(b.ids, b.targets), b.tokens};
  };
  auto eval_fn = [&]() {
    const finetune_lm::LmData::Eval e = data.evaluate(model, f.common.dev);
    apps::EvalResult r;
    r.loss = e.loss;
    if (e.acc) r.extra = {{"acc", *e.acc}, {"acc_norm", *e.acc_norm}};
    else r.extra = {{"eval_ppl", std::exp(e.loss)}};
    return r;
  };
  apps::Trainer trainer(model, topt, run);
  std::map<std::string, tensor::Generator*> generators;
  // the adapters' LoRA-dropout masks: checkpointed, so --resume draws the same ones
  if (summary.dropout_generator) generators["lora_dropout"] = summary.dropout_generator.get();
  const apps::TrainResult tr = trainer.run(loss_fn, eval_fn, resume, generators);
  nlohmann::json r;
  if (tr.stopped) {  // as if interrupted: the checkpoint is there for --resume, nothing else is written
    r = {{"stopped", true}, {"steps", tr.steps}, {"method", method}, {"run_dir", run.path()}};
    return r;
  }
  model.to(tensor::Device::cpu());
  prodial::save_adapter(model, summary, f.peft.opts, run.file("adapter"), lm.dir);
  if (!f.save_merged.empty()) save_merged(model, lm, f.save_merged, true);
  r = tr.eval.json();
  r.update(apps::param_counts(summary.trainable_params, summary.total_params));
  r["method"] = method;
  r["steps"] = tr.steps;
  r["lr"] = lr;
  r["train_loss"] = tr.last_loss;
  r["train_seconds"] = tr.seconds;
  r["adapter_dir"] = run.file("adapter");
  r["run_dir"] = run.path();
  r["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// The comparison table (markdown), one row per run.
int run(CLI::App& app, Flags& f) {
  const auto t0 = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  const bool resume = apps::prepare_run(app, f.common, f.train, "finetune_lm");
  const bool out_given = app.get_option("--out")->count() > 0 || resume;
  apps::validate_train_flags(f.train);
  apps::resolve_peft_flags(f.peft, f.common.seed);
  if (f.eval_only && f.dry_run) throw std::invalid_argument("--eval-only and --dry-run exclude each other");
  if (!f.preset.empty() && !f.model.empty()) throw std::invalid_argument("give --model or --preset, not both");
  const std::vector<std::string> methods = apps::compared_methods(f.peft.method, f.compare);
  if (methods.size() > 1 && (resume || f.eval_only || f.dry_run || !f.adapter.empty() || !f.save_merged.empty()))
    throw std::invalid_argument("--compare runs fresh trainings only (no --resume, --eval-only, --dry-run, --adapter, --save-merged)");
  if (resume && (f.eval_only || f.dry_run)) throw std::invalid_argument("--resume continues a training run; drop --eval-only / --dry-run");

  if (f.dry_run) {
    lmapps::LmDir lm = load_base(f);
    const int64_t base_params = lm.model->num_parameters();
    prodial::PeftSummary summary = attach_peft(*lm.model, f, f.peft.method);
    std::fprintf(stderr, "%s\n", summary.str().c_str());
    nlohmann::json r = summary.json();
    r.erase("trainable");
    r.update(apps::param_counts(summary.trainable_params, summary.total_params));
    r["base_params"] = base_params;
    r["model"] = lm.dir;
    r["model_config"] = mamba::to_json(lm.model->config());
    r["seconds"] = seconds();
    apps::print_result(r);
    return 0;
  }

  const finetune_lm::DataSpec data = finetune_lm::resolve_data(f.data, "--data");
  std::optional<finetune_lm::DataSpec> eval;
  if (!f.eval_data.empty()) eval = finetune_lm::resolve_data(f.eval_data, "--eval-data");

  if (f.eval_only || !f.adapter.empty()) {
    if (!f.adapter.empty() && !f.eval_only && f.save_merged.empty())
      throw std::invalid_argument("--adapter loads a trained adapter for --eval-only or --save-merged; to continue a training, use --resume RUN_DIR");
    lmapps::LmDir lm = load_base(f);
    mamba::MambaLM& model = *lm.model;
    const bool with_adapter = !f.adapter.empty();
    prodial::PeftSummary summary;
    if (with_adapter) summary = attach_peft(model, f, f.peft.method);
    model.to(f.common.dev);
    model.eval();
    finetune_lm::LmData lmdata(data, eval, false, *lm.tokenizer, data_options(f));
    std::fprintf(stderr, "finetune_lm: %s (%s), %s\n", data.path.c_str(), finetune_lm::kind_name(data.kind), lmdata.describe().c_str());
    const finetune_lm::LmData::Eval e = lmdata.evaluate(model, f.common.dev);
    nlohmann::json r = {{"eval_loss", e.loss}, {"eval_tokens", e.tokens}};
    if (e.acc) r["acc"] = *e.acc, r["acc_norm"] = *e.acc_norm, r["eval_docs"] = e.docs;
    else r["eval_ppl"] = std::exp(e.loss);
    if (with_adapter) r.update(apps::param_counts(summary.trainable_params, summary.total_params));
    else r.update(apps::param_counts(model.num_trainable_parameters(), model.num_parameters()));
    if (out_given) {
      apps::RunDir run(f.common.out, false);
      run.write_config(apps::base_config(app, f.common));
      nlohmann::json line = r;
      line["step"] = 0;
      run.append_metrics(line);
    }
    if (!f.save_merged.empty()) save_merged(model, lm, f.save_merged, with_adapter);
    r["seconds"] = seconds();
    apps::print_result(r);
    return 0;
  }

  // Data once (every method sees the same batches), tokenized by the base model's tokenizer.
  std::string tokenizer_source;
  const auto tok = f.preset.empty() ? lmapps::load_dir_tokenizer(f.model.empty() ? default_model_dir() : f.model, f.tokenizer, &tokenizer_source)
                                    : lmapps::load_dir_tokenizer("", f.tokenizer.empty() ? "bytes" : f.tokenizer, &tokenizer_source);
  finetune_lm::LmData lmdata(data, eval, true, *tok, data_options(f));
  std::fprintf(stderr, "finetune_lm: %s (%s), %s\n", data.path.c_str(), finetune_lm::kind_name(data.kind), lmdata.describe().c_str());
  // multiple-choice tasks report acc and acc_norm; text and prompt/answer sets loss and perplexity
  std::vector<apps::MetricColumn> metrics;
  if (lmdata.has_choices()) {
    metrics.push_back({"acc", "acc", 4});
    metrics.push_back({"acc_norm", "acc_norm", 4});
    metrics.push_back({"eval loss", "eval_loss", 4});
  } else {
    metrics.push_back({"eval loss", "eval_loss", 4});
    metrics.push_back({"eval ppl", "eval_ppl", 3});
  }
  nlohmann::json r = apps::run_methods(
      "finetune_lm", methods, f.common.out, resume,
      [&](const std::string& m, const std::string& dir, bool res) { return run_method(app, f, m, dir, res, lmdata); },
      metrics);
  r["seconds"] = seconds();
  apps::print_result(r);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  f.train.steps = 150;
  f.train.batch_size = 8;
  f.train.lr = 0;  // the method's default (default_lr)
  f.train.weight_decay = 0.0;
  f.train.warmup = 5;
  f.train.eval_every = 0;
  CLI::App app{"finetune_lm: fine-tune a Mamba language model directory with ProDiaL, LoRA, DoRA or a selective "
               "method on a text file or a JSONL task (default: ProDiaL on models/lm-byte-small, SpamAssassin bodies)",
               "finetune_lm"};
  apps::capture_defaults(app);
  apps::add_common_flags(app, f.common);
  auto* model_opt = app.add_option("--model", f.model, "model directory: HF or mamba_ssm layout with tokenizer.json (default: models/lm-byte-small)");
  auto* preset_opt = app.add_option("--preset", f.preset, "instead of --model: a freshly initialised preset (mamba/config.h), vocabulary from --tokenizer");
  model_opt->excludes(preset_opt);
  app.add_option("--tokenizer", f.tokenizer, "'bytes' or a tokenizer.json, instead of the model directory's");
  app.add_option("--data", f.data,
                 "training data: a text file (LM loss), a .jsonl of {prompt, answer} (answer-only loss) or of {context, "
                 "choices, label} (evaluation only), a task folder (train.jsonl, test.jsonl, test_choices.jsonl), or the "
                 "SpamAssassin tasks spam (first 2000 bytes of each message) | spam-body (first 600 bytes of each body), or "
                 "fortunes (built under data/tasks on first use)");
  app.add_option("--eval-data", f.eval_data,
                 "evaluation data (default: a task's test files; a text file's last --held-out part; else --data itself)");
  app.add_option("--seq-len", f.seq_len, "tokens per example (longer prompts lose their start)")->check(CLI::Range(int64_t(2), int64_t(1) << 20));
  app.add_option("--held-out", f.held_out, "text --data without --eval-data: the fraction at its end kept for evaluation")
      ->check(CLI::Range(0.0, 0.9));
  app.add_option("--eval-limit", f.eval_limit, "evaluate on at most this many examples / documents, spread evenly (0: all)")
      ->check(CLI::NonNegativeNumber);
  apps::add_peft_flags(app, f.peft);
  app.add_option("--adapter", f.adapter, "adapter directory (adapter_config.json + adapter_model.safetensors) to load, with --eval-only / --save-merged");
  app.add_flag("--eval-only", f.eval_only, "evaluate the model (with --adapter when given) on --data (or --eval-data) and exit");
  app.add_flag("--dry-run", f.dry_run, "build the model and its adapters, print the parameter summary JSON and exit");
  app.add_option("--save-merged", f.save_merged, "also write the model with the adapters merged in (HF layout + tokenizer.json, loads without adapter code)");
  app.add_option("--compare", f.compare, "also run these methods on the same budget (comma-separated, e.g. lora,head,full) and print a table");
  apps::add_train_flags(app, f.train);
  app.get_option("--lr")->description("peak learning rate (AdamW); 0: the method's default (1e-2, full 1e-3)");
  return apps::run_program(app, argc, argv, [&] { return run(app, f); });
}
