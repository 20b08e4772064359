// trainer.h: the training loop every program runs. The program gives a closure for the loss of the
// step-th batch (it picks its data from the step number alone, so a resumed run sees the same
// batches) and one for evaluation; the trainer runs AdamW over the model's trainable parameters
// (no decay on norms, biases, D, A_log and the dt bias: nn::optim::split_decay), the learning-rate
// schedule, gradient clipping, evaluation every N steps, metrics.jsonl, progress on stderr,
// curves.png, and checkpoints (nn::train_state: model, optimizer, generators, step) written
// atomically to <run>/checkpoint, from which --resume continues bit for bit.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/common/cli.h"
#include "apps/common/run_dir.h"
#include "autograd/variable.h"
#include "nn/module.h"
#include "tensor/generator.h"

namespace apps {

struct TrainerOptions {
  std::string program = "train";
  int64_t total_steps = 100;
  double lr = 1e-3, weight_decay = 0.05;
  std::string schedule = "cosine";  // constant | cosine | linear | step (after `warmup` linear steps)
  int64_t warmup = 0;
  double grad_clip = 1.0;           // 0: off
  int64_t eval_every = 0;           // 0: only at the end
  int64_t log_every = 0;            // metrics.jsonl training lines (mean loss); 0: about 100 over the run
  std::string unit = "images";      // what StepResult::items counts
  std::string metric = "eval_acc";  // the eval metric curves.png plots
  bool checkpoints = true;          // write <run>/checkpoint at each evaluation and at the end
  int64_t stop_after = 0;           // > 0: stop after this step (after its evaluation), as if interrupted
};

// TrainerOptions from the training flags (weight decay, schedule, warmup, clipping, evaluation,
// --stop-after) with the run's resolved step count and learning rate.
TrainerOptions trainer_options(const std::string& program, const TrainFlags& train, int64_t total_steps, double lr);

struct StepResult {
  autograd::Variable loss;  // a 0-d Variable to minimise
  int64_t items = 0;        // images or tokens in the batch (throughput)
};

struct EvalResult {
  double loss = 0;
  std::optional<double> acc;
  nlohmann::json extra = nlohmann::json::object();  // more metrics (acc_norm, ...), merged into the lines
  nlohmann::json json() const;                      // {"eval_loss", "eval_acc" when set, extra...}
};

struct TrainResult {
  EvalResult eval;       // the final evaluation
  int64_t steps = 0;     // steps done in total (resumed ones included)
  bool stopped = false;  // stopped early by stop_after
  double seconds = 0;    // training time, earlier sessions of a resumed run included
  double last_loss = 0;  // mean training loss over the last logged window
};

// The learning rate of `step` (0-based): linear warmup over `warmup` steps to `base`, then constant,
// cosine to 0, linear to 0, or step decay (x0.1 at 1/2 and 3/4 of the post-warmup steps).
double schedule_lr(const std::string& kind, int64_t step, double base, int64_t warmup, int64_t total);

class Trainer {
 public:
  Trainer(nn::Module& model, TrainerOptions opt, const RunDir& run);

  // Runs the steps left. With `resume`, first restores <run>/checkpoint (model, optimizer, step,
  // generators) and drops metrics lines written after it. `generators` are saved with each checkpoint
  // (the default generator always is).
  TrainResult run(const std::function<StepResult(int64_t step)>& loss_fn, const std::function<EvalResult()>& eval_fn,
                  bool resume, const std::map<std::string, tensor::Generator*>& generators = {});

  std::string checkpoint_dir() const { return run_.file("checkpoint"); }

 private:
  nn::Module& model_;
  TrainerOptions opt_;
  RunDir run_;
};

}  // namespace apps
