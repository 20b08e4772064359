// main.cpp: `finetune_vim`, fine-tuning a Vision Mamba with a PEFT method (prodial/peft.h) on an
// image set: by default ProDiaL on models/vim-fmnist-small (pretrained on Fashion-MNIST) fine-tuned
// on MNIST. Also: --dry-run (parameter counts), --eval-only (with --adapter), --save-merged,
// --resume, and --compare METHODS (the same budget for each method, then a comparison table).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "apps/common/cli.h"
#include "apps/common/compare.h"
#include "apps/common/program.h"
#include "apps/common/trainer.h"
#include "apps/common/vision_data.h"
#include "mamba/checkpoint.h"
#include "mamba/config.h"
#include "nn/loss.h"
#include "prodial/peft.h"

namespace fs = std::filesystem;

namespace {

const char* kDefaultModel = "models/vim-fmnist-small";

struct Flags {
  apps::CommonFlags common;
  apps::TrainFlags train;
  apps::PeftFlags peft;
  std::string model = kDefaultModel, preset, sets, data = "mnist", eval_data, adapter, save_merged, compare;
  int64_t train_size = 16000, eval_size = 2000, eval_batch = 256;
  bool eval_only = false, dry_run = false;
};

// The default model from any working directory: ./models/..., else the source tree's.
std::string resolve_model_dir(const std::string& dir) {
  if (dir != kDefaultModel || fs::exists(dir)) return dir;
  const std::string repo = std::string(PM_REPO_DIR) + "/" + kDefaultModel;
  return fs::exists(repo) ? repo : dir;
}

// The base model: --preset (fresh weights from --seed) or --model DIR (Vim layout).
std::shared_ptr<mamba::VisionMamba> build_model(const Flags& f) {
  if (!f.preset.empty()) {
    mamba::VimConfig cfg;
    try {
      cfg = mamba::vim_preset(f.preset);
    } catch (const std::exception& e) {
      throw std::invalid_argument("--preset: " + std::string(e.what()));
    }
    apps::apply_config_sets(cfg, f.sets);
    cfg.validate();
    tensor::Generator gen(f.common.seed);
    return std::make_shared<mamba::VisionMamba>(cfg, &gen);
  }
  if (!f.sets.empty()) throw std::invalid_argument("--set changes a --preset; a --model directory's config is its own");
  const std::string dir = resolve_model_dir(f.model);
  if (!fs::is_directory(dir)) {
    std::string hint = dir == kDefaultModel ? " (make it with the command in models/README.md)" : "";
    throw std::runtime_error("--model " + dir + ": no such directory" + hint);
  }
  try {
    if (mamba::detect_layout(dir) != mamba::CheckpointLayout::Vim)
      throw std::runtime_error(std::string("a ") + mamba::layout_name(mamba::detect_layout(dir)) +
                               " model directory; finetune_vim needs a Vim one (finetune_lm takes language models)");
    return mamba::load_vision_mamba(dir);
  } catch (const std::exception& e) {
    throw std::runtime_error("--model " + dir + ": " + e.what());
  }
}

// Applies --peft (or loads --adapter) to the model.
prodial::PeftSummary attach_peft(mamba::VisionMamba& model, const Flags& f, const std::string& method) {
  if (!f.adapter.empty()) {
    try {
      return prodial::load_adapter(model, prodial::ModelKind::Vision, f.adapter);
    } catch (const std::exception& e) {
      const std::string msg = e.what();
      throw std::runtime_error(msg.find(f.adapter) != std::string::npos ? "--adapter: " + msg
                                                                        : "--adapter " + f.adapter + ": " + msg);
    }
  }
  try {
    return prodial::apply_peft(model, prodial::ModelKind::Vision, method, f.peft.opts);
  } catch (const std::exception& e) {
    throw std::invalid_argument("--peft " + method + ": " + e.what());
  }
}

// The learning rate a method gets when --lr is 0 (the default): adapters train faster than full
// fine-tuning tolerates (tuned on the main job's MNIST budget).
double default_lr(const std::string& method) {
  if (method == "full") return 2e-3;
  if (method == "head") return 1e-2;
  return 5e-3;
}

struct Data {
  apps::ImageSet train, eval;
};

// One fine-tuning run of `method` into run directory `out`; returns its final metrics.
nlohmann::json run_method(CLI::App& app, Flags& f, const std::string& method, const std::string& out, bool resume,
                          Data& data) {
  const auto t0 = std::chrono::steady_clock::now();
  auto model = build_model(f);
  prodial::PeftSummary summary = attach_peft(*model, f, method);
  model->to(f.common.dev);
  apps::RunDir run(out, resume);
  const int64_t steps = apps::total_steps(f.train, apps::batches_per_epoch(data.train, f.train.batch_size));
  const double lr = f.train.lr > 0 ? f.train.lr : default_lr(method);
  if (!resume) {
    nlohmann::json config = apps::method_run_config(app, f.common, out, method, lr, summary);
    config["model"] = mamba::to_json(model->config());
    config["resolved"] = {
        {"lr", lr}, {"total_steps", steps}, {"train_examples", data.train.size()}, {"eval_examples", data.eval.size()}};
    run.write_config(config);
  }
  std::fprintf(stderr, "finetune_vim: %s: %lld of %lld parameters trainable (%.2f%%), %lld steps at lr %g\n",
               method.c_str(), (long long)summary.trainable_params, (long long)summary.total_params,
               summary.trainable_percent(), (long long)steps, lr);

  const apps::TrainerOptions topt = apps::trainer_options("finetune_vim", f.train, steps, lr);
  apps::Trainer trainer(*model, topt, run);
  auto loss_fn = [&](int64_t step) {
    tensor::Tensor x, y;
    apps::batch_for_step(data.train, step, f.train.batch_size, f.common.seed, x, y);
    autograd::Variable logits = model->forward(autograd::Variable(x));
    return apps::StepResult{nn::cross_entropy(logits, y), x.size(0)};
  };
  auto eval_fn = [&] { return apps::evaluate_classifier(*model, data.eval, f.eval_batch); };
  std::map<std::string, tensor::Generator*> generators;
  // the adapters' LoRA-dropout masks: checkpointed, so --resume draws the same ones
  if (summary.dropout_generator) generators["lora_dropout"] = summary.dropout_generator.get();
  apps::TrainResult tr = trainer.run(loss_fn, eval_fn, resume, generators);

  model->to(tensor::Device::cpu());
  prodial::save_adapter(*model, summary, f.peft.opts, run.file("adapter"),
                        f.preset.empty() ? resolve_model_dir(f.model) : f.preset);
  if (!f.save_merged.empty()) {
    prodial::merge_peft(*model);
    mamba::save_vision_mamba(*model, f.save_merged);
  }
  nlohmann::json r = tr.eval.json();
  r.update(apps::param_counts(summary.trainable_params, summary.total_params));
  r["method"] = method;
  r["steps"] = tr.steps;
  r["lr"] = lr;
  if (tr.stopped) r["stopped"] = true;
  r["train_loss"] = tr.last_loss;
  r["train_seconds"] = tr.seconds;
  r["run_dir"] = run.path();
  r["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// The comparison table (markdown), one row per run.
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "finetune_vim: fine-tunes a Vision Mamba with a PEFT method (default: ProDiaL on models/vim-fmnist-small, on "
      "MNIST)",
      "finetune_vim"};
  apps::capture_defaults(app);
  Flags f;
  f.train.steps = 500;  // one epoch of the 16,000 training images at batch 32
  f.train.batch_size = 32;
  f.train.lr = 0;  // the method's default (default_lr)
  f.train.weight_decay = 0.01;
  f.train.warmup = 20;
  f.train.eval_every = 100;
  apps::add_common_flags(app, f.common);
  auto* model_opt = app.add_option("--model", f.model, "base model directory (Vim layout)");
  auto* preset_opt = app.add_option("--preset", f.preset,
                                    "start from a fresh preset instead of --model (mamba/config.h: vim-test, ...)");
  model_opt->excludes(preset_opt);
  app.add_option("--set", f.sets, "space-separated field=value overrides of --preset (VimConfig field names)");
  app.add_option(
      "--data", f.data,
      "training images: mnist | fashion-mnist | cifar10 | a folder (IDX files or ImageFolder) | a .safetensors file");
  app.add_option("--eval-data", f.eval_data, "evaluation images, their test split (default: --data)");
  app.add_option("--train-size", f.train_size, "use this many training images (0: all)")->check(CLI::NonNegativeNumber);
  app.add_option("--eval-size", f.eval_size, "evaluate on this many images (0: all)")->check(CLI::NonNegativeNumber);
  apps::add_peft_flags(app, f.peft);
  app.add_option("--adapter", f.adapter,
                 "load this adapter directory onto the model (with --eval-only / --save-merged)");
  app.add_flag("--eval-only", f.eval_only, "evaluate the model (with --adapter if given) and exit");
  app.add_flag("--dry-run", f.dry_run, "build the model and its adapters, print the summary JSON, exit");
  app.add_option("--save-merged", f.save_merged,
                 "save the model with its adapters merged into plain weights (Vim layout)");
  app.add_option("--compare", f.compare,
                 "also run these methods on the same budget (comma-separated, e.g. lora,head,full) and print a table");
  apps::add_train_flags(app, f.train);
  app.get_option("--lr")->description(
      "peak learning rate (AdamW); 0: the method's default (5e-3 adapters, 1e-2 head, 2e-3 full)");

  return apps::run_program(app, argc, argv, [&]() -> int {
    const auto t0 = std::chrono::steady_clock::now();
    auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    const bool resume = apps::prepare_run(app, f.common, f.train, "finetune_vim");
    apps::validate_train_flags(f.train);
    apps::resolve_peft_flags(f.peft, f.common.seed);
    const std::vector<std::string> methods = apps::compared_methods(f.peft.method, f.compare);
    if (methods.size() > 1 && (resume || f.eval_only || f.dry_run || !f.adapter.empty() || !f.save_merged.empty()))
      throw std::invalid_argument(
          "--compare runs fresh trainings only (no --resume, --eval-only, --dry-run, --adapter, --save-merged)");

    if (f.dry_run) {
      auto model = build_model(f);
      prodial::PeftSummary summary = attach_peft(*model, f, f.peft.method);
      std::fprintf(stderr, "%s\n", summary.str().c_str());
      nlohmann::json r = summary.json();
      r.update(apps::param_counts(summary.trainable_params, summary.total_params));
      r["model"] = mamba::to_json(model->config());
      r["seconds"] = seconds();
      apps::print_result(r);
      return 0;
    }
    if (f.eval_only || !f.adapter.empty()) {
      if (!f.adapter.empty() && !f.eval_only && f.save_merged.empty())
        throw std::invalid_argument(
            "--adapter loads a trained adapter for --eval-only or --save-merged; to continue a training, use --resume "
            "RUN_DIR");
      auto model = build_model(f);
      prodial::PeftSummary summary;
      const bool with_adapter = !f.adapter.empty();
      if (with_adapter) summary = attach_peft(*model, f, f.peft.method);
      model->to(f.common.dev);
      model->eval();
      const std::string spec = f.eval_data.empty() ? f.data : f.eval_data;
      apps::ImageSet set = apps::load_image_data(spec, false, model->config(), f.eval_size, f.common.seed + 1,
                                                 f.eval_data.empty() ? "--data" : "--eval-data", f.common.dev);
      apps::EvalResult ev = apps::evaluate_classifier(*model, set, f.eval_batch);
      nlohmann::json r = ev.json();
      if (with_adapter)
        r.update(apps::param_counts(summary.trainable_params, summary.total_params));
      else
        r.update(apps::param_counts(model->num_trainable_parameters(), model->num_parameters()));
      r["eval_examples"] = set.size();
      if (!f.save_merged.empty()) {
        model->to(tensor::Device::cpu());
        r["merged"] = prodial::merge_peft(*model);
        mamba::save_vision_mamba(*model, f.save_merged);
      }
      r["seconds"] = seconds();
      apps::print_result(r);
      return 0;
    }

    // Data once (every method sees the same examples), for the base model's shape.
    mamba::VimConfig cfg = build_model(f)->config();
    Data data;
    data.train = apps::load_image_data(f.data, true, cfg, f.train_size, f.common.seed, "--data", f.common.dev);
    const std::string eval_spec = f.eval_data.empty() ? f.data : f.eval_data;
    data.eval = apps::load_image_data(eval_spec, false, cfg, f.eval_size, f.common.seed + 1,
                                      f.eval_data.empty() ? "--data" : "--eval-data", f.common.dev);
    nlohmann::json r = apps::run_methods(
        "finetune_vim", methods, f.common.out, resume,
        [&](const std::string& m, const std::string& dir, bool res) { return run_method(app, f, m, dir, res, data); },
        {{"eval acc", "eval_acc", 4}, {"eval loss", "eval_loss", 4}});
    r["seconds"] = seconds();
    apps::print_result(r);
    return 0;
  });
}
