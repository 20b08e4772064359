// cli.cpp: the shared flags, their checks, their JSON form and --resume's re-parse.
#include "apps/common/cli.h"
#include "prodial/peft.h"

#include <omp.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "tensor/generator.h"
#include "tensor/storage.h"

// OpenBLAS's own thread count (when the tensor layer links OpenBLAS; weak, so absent otherwise).
extern "C" void openblas_set_num_threads(int n) __attribute__((weak));
extern "C" int openblas_get_parallel() __attribute__((weak));  // 0 sequential, 1 pthreads, 2 OpenMP

namespace apps {

namespace {

std::string long_name(const CLI::Option* o) {
  const auto& names = o->get_lnames();
  return names.empty() ? "" : names.front();
}

// "0.001" -> 0.001, "12" -> 12, "true" -> true, anything else stays a string.
nlohmann::json typed(const std::string& s) {
  if (s.empty()) return s;
  const char c = s[0];
  if (s == "true" || s == "false" || c == '-' || c == '.' || (c >= '0' && c <= '9')) {
    try {
      size_t used = 0;
      if (s.find_first_of(".eE") == std::string::npos) {
        long long v = std::stoll(s, &used);
        if (used == s.size()) return v;
      }
      double d = std::stod(s, &used);
      if (used == s.size()) return d;
    } catch (...) {
    }
    if (s == "true") return true;
    if (s == "false") return false;
  }
  return s;
}

bool is_flag(const CLI::Option* o) { return o->get_expected_max() == 0; }

// The value a parsed option holds, as JSON.
nlohmann::json option_value(const CLI::Option* o) {
  if (is_flag(o)) return o->count() > 0 && o->as<bool>();
  if (o->count() > 0) {
    const auto& r = o->results();
    return typed(r.empty() ? "" : r.back());
  }
  return typed(o->get_default_str());
}

std::string arg_string(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

}  // namespace

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    std::string part = s.substr(start, end - start);
    part.erase(0, part.find_first_not_of(" \t"));
    part.erase(part.find_last_not_of(" \t") + 1);
    if (!part.empty()) out.push_back(part);
    start = end + 1;
  }
  return out;
}

void capture_defaults(CLI::App& app) { app.option_defaults()->always_capture_default(); }

void add_common_flags(CLI::App& app, CommonFlags& f) {
  app.add_option("--device", f.device, "cpu or cuda[:N] (default: cuda when a GPU is present, else cpu)");
  app.add_option("--seed", f.seed, "random seed (initialisation, data order, dropout)");
  app.add_option("--threads", f.threads, "CPU threads (0: every core)")->check(CLI::NonNegativeNumber);
  app.add_option("--out", f.out, "run directory (default: runs/<program>-<date-time>)");
}

void resolve_common_flags(CommonFlags& f, const std::string& program) {
  if (f.device.empty()) f.device = tensor::cuda_available() ? "cuda" : "cpu";
  try {
    f.dev = tensor::Device::parse(f.device);
  } catch (const std::exception&) {
    throw std::invalid_argument("--device: expected cpu or cuda[:N], got '" + f.device + "'");
  }
  if (f.dev.is_cuda() && !tensor::cuda_available())
    throw std::invalid_argument("--device " + f.device +
                                ": no GPU answers (or this build has no CUDA backend); use --device cpu");
  if (f.threads > 0) omp_set_num_threads(f.threads);
  f.threads = f.threads > 0 ? f.threads : omp_get_max_threads();
  // With OpenBLAS's pthreads build, its spinning worker threads steal the cores OpenMP's elementwise
  // loops use (the models' matrix products are small): run it on one thread. Its OpenMP build (what
  // CMakeLists.txt picks when installed) shares our OpenMP threads and keeps them all.
  if (openblas_set_num_threads && openblas_get_parallel && openblas_get_parallel() == 1) openblas_set_num_threads(1);
  tensor::manual_seed(f.seed);
  if (f.out.empty()) {
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::gmtime(&now));
    f.out = "runs/" + program + "-" + stamp;
  }
}

const std::vector<std::string>& peft_method_names() {
  static const std::vector<std::string> names = prodial::method_names();  // the registry: new methods appear here
  return names;
}

void add_peft_flags(CLI::App& app, PeftFlags& f) {
  std::string methods;
  for (const auto& m : peft_method_names()) methods += (methods.empty() ? "" : " | ") + m;
  app.add_option("--peft", f.method, "fine-tuning method: " + methods)->check(CLI::IsMember(peft_method_names()));
  app.add_option("--rb-in", f.opts.rb_in, "ProDiaL block count for in_proj (0: diagonal, one block per input)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rb-out", f.opts.rb_out, "ProDiaL block count for out_proj (0: diagonal)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rank", f.opts.rank, "LoRA rank (ProDiaL's low-rank term too)")->check(CLI::PositiveNumber);
  app.add_option("--alpha", f.opts.alpha, "LoRA alpha: the update is scaled by alpha / rank")
      ->check(CLI::PositiveNumber);
  app.add_option("--lora-dropout", f.opts.dropout, "dropout on the low-rank branch's input (training only)")
      ->check(CLI::Range(0.0, 0.999));
  app.add_option("--diag-mode", f.opts.diag_mode, "ProDiaL diagonal: frozen | trainable")
      ->check(CLI::IsMember({"frozen", "trainable"}));
  app.add_option("--targets", f.targets,
                 "comma-separated glob patterns of the modules to adapt (default: the method's)");
  app.add_option("--layers", f.layers, "comma-separated layer indices to adapt, e.g. 0,5,11 (default: every layer)");
  app.add_flag("--train-embeddings", f.opts.train_embeddings,
               "also train the token / patch / position embeddings (the paper finds it hurts transfer)");
}

void resolve_peft_flags(PeftFlags& f, uint64_t seed) {
  f.opts.targets = split_list(f.targets);
  f.opts.layers.clear();
  for (const auto& item : split_list(f.layers)) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || v < 0)
      throw std::invalid_argument("--layers: expected comma-separated layer indices >= 0, got '" + item + "'");
    f.opts.layers.push_back(v);
  }
  f.opts.seed = seed;
  if (f.opts.rank < 1) throw std::invalid_argument("--rank must be >= 1, got " + std::to_string(f.opts.rank));
  if (!(f.opts.alpha > 0)) throw std::invalid_argument("--alpha must be > 0");
  if (f.opts.dropout < 0 || f.opts.dropout >= 1) throw std::invalid_argument("--lora-dropout must be in [0, 1)");
}

void add_train_flags(CLI::App& app, TrainFlags& f) {
  auto* epochs = app.add_option("--epochs", f.epochs, "passes over the training data (or give --steps)")
                     ->check(CLI::NonNegativeNumber);
  auto* steps =
      app.add_option("--steps", f.steps, "optimizer steps (instead of --epochs)")->check(CLI::NonNegativeNumber);
  epochs->excludes(steps);
  app.add_option("--batch-size", f.batch_size, "examples per step")->check(CLI::PositiveNumber);
  app.add_option("--lr", f.lr, "peak learning rate (AdamW; 0 where a program documents a per-method default)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--weight-decay", f.weight_decay, "AdamW weight decay (none on norms, biases, D, A_log, dt bias)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--schedule", f.schedule, "learning-rate schedule after warmup: constant | cosine | linear | step")
      ->check(CLI::IsMember({"constant", "cosine", "linear", "step"}));
  app.add_option("--warmup", f.warmup, "linear warmup steps")->check(CLI::NonNegativeNumber);
  app.add_option("--grad-clip", f.grad_clip, "clip the global gradient norm to this (0: off)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--eval-every", f.eval_every, "evaluate (and checkpoint) every N steps (0: only at the end)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--resume", f.resume, "continue the run in this directory from its last checkpoint");
  app.add_option("--stop-after", f.stop_after, "stop after this step as if interrupted (for testing --resume)")
      ->check(CLI::NonNegativeNumber)
      ->group("");
}

void validate_train_flags(const TrainFlags& f) {
  if (f.epochs < 0 || f.steps < 0) throw std::invalid_argument("--epochs / --steps must be >= 0");
  if (f.batch_size < 1) throw std::invalid_argument("--batch-size must be >= 1, got " + std::to_string(f.batch_size));
  if (!(f.lr >= 0)) throw std::invalid_argument("--lr must be > 0 (0: the program's default for the method)");
  if (f.weight_decay < 0) throw std::invalid_argument("--weight-decay must be >= 0");
  if (f.warmup < 0) throw std::invalid_argument("--warmup must be >= 0");
  if (f.grad_clip < 0) throw std::invalid_argument("--grad-clip must be >= 0");
  if (f.eval_every < 0) throw std::invalid_argument("--eval-every must be >= 0");
}

int64_t total_steps(const TrainFlags& f, int64_t batches_per_epoch) {
  if (f.steps > 0) return f.steps;
  return std::max<int64_t>(1, f.epochs) * std::max<int64_t>(1, batches_per_epoch);
}

nlohmann::json flags_json(const CLI::App& app) {
  nlohmann::json j = nlohmann::json::object();
  for (const CLI::Option* o : app.get_options()) {
    const std::string name = long_name(o);
    if (name.empty() || name == "help") continue;
    j[name] = option_value(o);
  }
  return j;
}

std::vector<std::string> given_flags(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* o : app.get_options()) {
    const std::string name = long_name(o);
    if (!name.empty() && name != "help" && o->count() > 0) out.push_back(name);
  }
  return out;
}

void reparse_for_resume(CLI::App& app, const nlohmann::json& config, const std::string& dir,
                        const std::vector<std::string>& may_differ) {
  if (!config.contains("flags") || !config["flags"].is_object() || !config.contains("given"))
    throw std::runtime_error("--resume: " + dir +
                             "/config.json has no \"flags\" / \"given\" (not a run of this program)");
  const nlohmann::json& saved = config["flags"];
  auto differs_ok = [&](const std::string& n) {
    return std::find(may_differ.begin(), may_differ.end(), n) != may_differ.end();
  };
  std::vector<std::string> args;  // in command-line order; reversed for CLI11 below
  for (const CLI::Option* o : app.get_options()) {
    const std::string name = long_name(o);
    if (name.empty() || name == "help" || o->count() == 0) continue;
    if (differs_ok(name)) {
      args.push_back(is_flag(o) ? "--" + name : "--" + name + "=" + arg_string(option_value(o)));
      continue;
    }
    if (!saved.contains(name)) throw std::runtime_error("--resume: " + dir + " was run without --" + name);
    const nlohmann::json now = option_value(o), then = saved[name];
    const bool same = (now.is_number() && then.is_number()) ? now.get<double>() == then.get<double>() : now == then;
    if (!same)
      throw std::runtime_error("--resume: " + dir + " was run with --" + name + " " + arg_string(then) + ", not --" +
                               name + " " + arg_string(now));
  }
  for (const auto& g : config["given"]) {
    const std::string name = g.get<std::string>();
    if (differs_ok(name) || !saved.contains(name)) continue;
    const CLI::Option* o = app.get_option_no_throw("--" + name);
    if (!o)
      throw std::runtime_error("--resume: " + dir + " was run with --" + name + ", which this program does not know");
    if (is_flag(o)) {
      if (saved[name].is_boolean() && saved[name].get<bool>()) args.push_back("--" + name);
    } else {
      args.push_back("--" + name + "=" + arg_string(saved[name]));
    }
  }
  std::reverse(args.begin(), args.end());
  app.clear();
  app.parse(args);
}

void apply_config_sets(mamba::VimConfig& cfg, const std::string& sets, const std::string& flag) {
  std::istringstream in(sets);
  std::string item;
  while (in >> item) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::invalid_argument(flag + ": expected field=value, got '" + item + "'");
    try {
      mamba::set_field(cfg, item.substr(0, eq), item.substr(eq + 1));
    } catch (const std::exception& e) {
      throw std::invalid_argument(flag + " " + item + ": " + e.what());
    }
  }
}

}  // namespace apps
