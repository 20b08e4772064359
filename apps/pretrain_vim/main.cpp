// main.cpp: `pretrain_vim`, training a Vision Mamba from scratch on an image set (Fashion-MNIST by
// default) with the shared training loop, then saving the model in the Vim layout (mamba/checkpoint.h)
// to <run>/model and, with --save, to another directory (how models/vim-fmnist was made).
#include <chrono>
#include <sstream>

#include "apps/common/cli.h"
#include "apps/common/program.h"
#include "apps/common/trainer.h"
#include "apps/common/vision_data.h"
#include "mamba/checkpoint.h"
#include "mamba/config.h"
#include "nn/loss.h"

namespace {

// The default model, preset "fmnist-small": vim-test reshaped for 28x28 grey images (patch 7,
// stride 7: 16 patches + the class token), 10 classes, Fashion-MNIST's mean / std.
const char* kSmallPreset = "fmnist-small";
const char* kSmallSet =
    "img_size=28 patch_size=7 stride=7 channels=1 embed_dim=64 depth=4 d_state=8 num_classes=10 "
    "image_mean=0.2860 image_std=0.3530";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pretrain_vim: trains a Vision Mamba from scratch on an image set and saves a Vim model directory",
               "pretrain_vim"};
  apps::capture_defaults(app);
  apps::CommonFlags common;
  apps::TrainFlags train;
  // the recipe of models/vim-fmnist-small (models/README.md)
  train.steps = 1500;
  train.batch_size = 64;
  train.lr = 2e-3;
  train.weight_decay = 0.05;
  train.warmup = 50;
  train.eval_every = 500;
  std::string preset = kSmallPreset, sets, data = "fashion-mnist", eval_data, save;
  int64_t train_size = 0, eval_size = 2000;
  bool dry_run = false;
  apps::add_common_flags(app, common);
  app.add_option("--preset", preset,
                 "Vim preset to start from: fmnist-small (28x28 grey, patch 7, D 64, depth 4) or one of mamba/config.h "
                 "(vim-test, vim-tiny, ...)");
  app.add_option("--set", sets, "space-separated field=value overrides of the preset (VimConfig field names)");
  app.add_option("--data", data,
                 "training images: mnist | fashion-mnist | cifar10 | a folder (IDX files or ImageFolder)");
  app.add_option("--eval-data", eval_data, "evaluation images, their test split (default: --data)");
  app.add_option("--train-size", train_size, "use this many training images (0: all)")->check(CLI::NonNegativeNumber);
  app.add_option("--eval-size", eval_size, "evaluate on this many images (0: all)")->check(CLI::NonNegativeNumber);
  app.add_option("--save", save, "also save the trained model to this directory (Vim layout)");
  app.add_flag("--dry-run", dry_run, "build the model, print its parameter counts as JSON, exit");
  apps::add_train_flags(app, train);

  return apps::run_program(app, argc, argv, [&]() -> int {
    const auto t0 = std::chrono::steady_clock::now();
    auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    const bool resume = apps::prepare_run(app, common, train, "pretrain_vim");
    apps::validate_train_flags(train);
    mamba::VimConfig cfg;
    try {
      if (preset == kSmallPreset) {
        cfg = mamba::vim_preset("vim-test");
        apps::apply_config_sets(cfg, kSmallSet);
      } else {
        cfg = mamba::vim_preset(preset);
      }
    } catch (const std::exception& e) {
      throw std::invalid_argument("--preset: " + std::string(e.what()));
    }
    apps::apply_config_sets(cfg, sets);
    cfg.validate();
    tensor::Generator init_gen(common.seed);
    auto model = std::make_shared<mamba::VisionMamba>(cfg, &init_gen);
    model->to(common.dev);
    const int64_t total_params = model->num_parameters();
    nlohmann::json result = apps::param_counts(model->num_trainable_parameters(), total_params);
    if (dry_run) {
      result["model"] = mamba::to_json(cfg);
      result["seconds"] = seconds();
      apps::print_result(result);
      return 0;
    }

    auto train_src = apps::open_image_data(data, true, static_cast<int>(cfg.channels), "--data");
    const std::string eval_spec = eval_data.empty() ? data : eval_data;
    auto eval_src = apps::open_image_data(eval_spec, false, static_cast<int>(cfg.channels),
                                          eval_data.empty() ? "--data" : "--eval-data");
    apps::ImageSet train_set =
        apps::load_image_set(*train_src, cfg, train_size, common.seed, data, "--data", common.dev);
    apps::ImageSet eval_set = apps::load_image_set(*eval_src, cfg, eval_size, common.seed + 1, eval_spec,
                                                   eval_data.empty() ? "--data" : "--eval-data", common.dev);

    apps::RunDir run(common.out, resume);
    const int64_t steps = apps::total_steps(train, apps::batches_per_epoch(train_set, train.batch_size));
    if (!resume) {
      nlohmann::json config = apps::base_config(app, common);
      config["model"] = mamba::to_json(cfg);
      config["resolved"] = {
          {"total_steps", steps}, {"train_examples", train_set.size()}, {"eval_examples", eval_set.size()}};
      run.write_config(config);
    }
    const apps::TrainerOptions topt = apps::trainer_options("pretrain_vim", train, steps, train.lr);
    apps::Trainer trainer(*model, topt, run);
    auto loss_fn = [&](int64_t step) {
      tensor::Tensor x, y;
      apps::batch_for_step(train_set, step, train.batch_size, common.seed, x, y);
      autograd::Variable logits = model->forward(autograd::Variable(x));
      return apps::StepResult{nn::cross_entropy(logits, y), x.size(0)};
    };
    auto eval_fn = [&] { return apps::evaluate_classifier(*model, eval_set, 256); };
    apps::TrainResult tr = trainer.run(loss_fn, eval_fn, resume);

    mamba::save_vision_mamba(*model, run.file("model"));
    if (!save.empty()) mamba::save_vision_mamba(*model, save);
    result.update(tr.eval.json());
    result["train_loss"] = tr.last_loss;
    result["steps"] = tr.steps;
    result["train_seconds"] = tr.seconds;
    result["model_dir"] = save.empty() ? run.file("model") : save;
    result["run_dir"] = run.path();
    result["seconds"] = seconds();
    apps::print_result(result);
    return 0;
  });
}
