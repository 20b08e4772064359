// trainer.cpp: the shared training loop.
#include "apps/common/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "apps/common/plot.h"
#include "apps/common/progress.h"
#include "autograd/grad_mode.h"
#include "nn/optim/adamw.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/param_groups.h"
#include "nn/train_state.h"

namespace apps {

nlohmann::json EvalResult::json() const {
  nlohmann::json j = {{"eval_loss", loss}};
  if (acc) j["eval_acc"] = *acc;
  for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
  return j;
}

double schedule_lr(const std::string& kind, int64_t step, double base, int64_t warmup, int64_t total) {
  if (step < warmup) return base * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double span = static_cast<double>(std::max<int64_t>(1, total - warmup));
  const double q = std::min(1.0, static_cast<double>(step - warmup) / span);  // progress after warmup
  if (kind == "constant") return base;
  if (kind == "cosine") return base * 0.5 * (1 + std::cos(M_PI * q));
  if (kind == "linear") return base * (1 - q);
  if (kind == "step") return base * (q >= 0.75 ? 0.01 : q >= 0.5 ? 0.1 : 1.0);
  throw std::invalid_argument("--schedule: unknown schedule '" + kind + "' (constant, cosine, linear, step)");
}

TrainerOptions trainer_options(const std::string& program, const TrainFlags& train, int64_t total_steps, double lr) {
  TrainerOptions o;
  o.program = program;
  o.total_steps = total_steps;
  o.lr = lr;
  o.weight_decay = train.weight_decay;
  o.schedule = train.schedule;
  o.warmup = train.warmup;
  o.grad_clip = train.grad_clip;
  o.eval_every = train.eval_every;
  o.stop_after = train.stop_after;
  return o;
}

Trainer::Trainer(nn::Module& model, TrainerOptions opt, const RunDir& run)
    : model_(model), opt_(std::move(opt)), run_(run) {
  if (!(opt_.lr > 0)) throw std::invalid_argument("--lr must be > 0, got " + std::to_string(opt_.lr));
  if (opt_.total_steps < 1)
    throw std::invalid_argument("training needs at least 1 step, got " + std::to_string(opt_.total_steps));
  schedule_lr(opt_.schedule, 0, 1, 0, 1);  // rejects an unknown schedule before anything runs
}

namespace {
double scalar(const autograd::Variable& v) { return v.data().to_vector().at(0); }
}  // namespace

TrainResult Trainer::run(const std::function<StepResult(int64_t step)>& loss_fn,
                         const std::function<EvalResult()>& eval_fn, bool resume,
                         const std::map<std::string, tensor::Generator*>& generators) {
  using Clock = std::chrono::steady_clock;
  const auto named = model_.named_trainable_parameters();
  if (named.empty()) throw std::runtime_error(opt_.program + ": the model has no trainable parameters");
  std::vector<autograd::Variable> params;
  for (const auto& [name, v] : named) params.push_back(v);
  nn::optim::AdamWOptions aopt;
  aopt.lr = opt_.lr;
  aopt.weight_decay = opt_.weight_decay;
  nn::optim::AdamW optimizer(nn::optim::split_decay(named, opt_.weight_decay), aopt);

  nn::Checkpointed what;
  what.model = &model_;
  what.optimizer = &optimizer;
  what.generators = generators;

  int64_t step = 0;
  double seconds_before = 0;
  if (resume) {
    if (!std::filesystem::exists(checkpoint_dir() + "/train_state.json"))
      throw std::runtime_error("--resume: " + run_.path() + " has no checkpoint yet (no checkpoint/train_state.json)");
    nn::TrainState st = nn::load_train_state(checkpoint_dir(), what);
    step = st.step;
    seconds_before = st.extra.value("seconds", 0.0);
    run_.truncate_metrics_after(step);
  }

  const int64_t total = opt_.total_steps;
  const int64_t log_every = opt_.log_every > 0 ? opt_.log_every : std::max<int64_t>(1, total / 100);
  Progress progress(opt_.program, total, opt_.unit, step);
  if (resume) progress.note("resumed at step " + std::to_string(step) + " of " + std::to_string(total));
  const auto start = Clock::now();
  auto elapsed = [&] { return seconds_before + std::chrono::duration<double>(Clock::now() - start).count(); };

  TrainResult result;
  bool evaluated = false;
  if (resume)  // the last logged training loss, in case no step is left to run
    for (const auto& m : run_.read_metrics())
      if (m.contains("loss") && m["loss"].is_number()) result.last_loss = m["loss"].get<double>();
  double window_loss = 0;
  int64_t window_steps = 0, window_items = 0;
  auto window_start = Clock::now();

  auto evaluate_and_checkpoint = [&](int64_t done, bool record) {
    model_.eval();
    EvalResult ev;
    {
      autograd::NoGradGuard no_grad;
      ev = eval_fn();
    }
    model_.train();
    result.eval = ev;
    evaluated = true;
    if (!record) return;  // a finished run resumed: its metrics and checkpoint are complete
    nlohmann::json line = ev.json();
    line["step"] = done;
    line["seconds"] = elapsed();
    run_.append_metrics(line);
    char buf[160];
    std::snprintf(buf, sizeof buf, "eval at step %lld: loss %.4f", (long long)done, ev.loss);
    std::string note = buf;
    if (ev.acc) {
      std::snprintf(buf, sizeof buf, ", acc %.4f", *ev.acc);
      note += buf;
    }
    progress.note(note);
    if (opt_.checkpoints) {
      nn::TrainState st;
      st.step = done;
      st.extra = {{"seconds", elapsed()}, {"schedule", opt_.schedule}, {"total_steps", total}};
      nn::save_train_state(checkpoint_dir(), what, st);
    }
    write_curves(run_.file("curves.png"), run_.read_metrics(), opt_.metric);
  };

  model_.train();
  while (step < total) {
    const double lr = schedule_lr(opt_.schedule, step, opt_.lr, opt_.warmup, total);
    optimizer.set_lr_factor(lr / opt_.lr);
    optimizer.zero_grad();
    StepResult r = loss_fn(step);
    r.loss.backward();
    // Read the loss once the backward is queued (on a GPU the host then queues it while the forward
    // still runs) but before any parameter moves: a non-finite loss changes nothing.
    const double loss = scalar(r.loss);
    if (!std::isfinite(loss))
      throw std::runtime_error("step " + std::to_string(step + 1) + ": the loss is " + std::to_string(loss) +
                               " (try a lower --lr or a --grad-clip)");
    if (opt_.grad_clip > 0) nn::optim::clip_grad_norm(params, opt_.grad_clip);
    optimizer.step();
    ++step;
    window_loss += loss, window_items += r.items, ++window_steps;
    progress.update(step, loss, lr, r.items);
    if (step % log_every == 0 || step == total) {
      const double secs = std::chrono::duration<double>(Clock::now() - window_start).count();
      run_.append_metrics({{"step", step},
                           {"loss", window_loss / window_steps},
                           {"lr", lr},
                           {opt_.unit + "_per_s", secs > 0 ? window_items / secs : 0.0}});
      result.last_loss = window_loss / window_steps;
      window_loss = 0, window_steps = 0, window_items = 0;
      window_start = Clock::now();
    }
    if ((opt_.eval_every > 0 && step % opt_.eval_every == 0) || step == total) evaluate_and_checkpoint(step, true);
    if (opt_.stop_after > 0 && step >= opt_.stop_after && step < total) {
      progress.note("stopping after step " + std::to_string(step) + " (--stop-after)");
      result.stopped = true;
      break;
    }
  }
  if (!evaluated && !result.stopped) evaluate_and_checkpoint(step, false);  // a resumed run that had already finished
  progress.finish();
  result.steps = step;
  result.seconds = elapsed();
  return result;
}

}  // namespace apps
