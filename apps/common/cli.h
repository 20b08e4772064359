// cli.h: the flags every program shares, on a CLI::App: the common ones (--device, --seed, --threads,
// --out), the PEFT method and its hyper-parameters (into prodial::PeftOptions), the training loop's
// (--epochs/--steps, --batch-size, --lr, ... --resume); their validation with one-line errors naming
// the flag; every flag's resolved value as JSON (for config.json); and --resume's re-parse with the
// flags a run was started with.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "mamba/config.h"
#include "prodial/peft.h"
#include "tensor/device.h"

namespace apps {

// --device cpu|cuda[:N] (default cuda when a GPU answers), --seed, --threads, --out.
struct CommonFlags {
  std::string device;  // "" until resolved
  uint64_t seed = 0;
  int threads = 0;                             // 0: OpenMP's default (every core)
  std::string out;                             // run directory; "" -> runs/<program>-<UTC date-time>
  tensor::Device dev = tensor::Device::cpu();  // set by resolve_common_flags
};
void add_common_flags(CLI::App& app, CommonFlags& f);
// Checks and applies the flags: the device (cuda without a GPU is an error naming --device), the
// thread count (omp_set_num_threads), the seed (the default generator), the run directory's name.
void resolve_common_flags(CommonFlags& f, const std::string& program);

// --peft METHOD and its hyper-parameters --rb-in --rb-out --rank --alpha --lora-dropout --diag-mode
// --targets (comma-separated glob patterns).
struct PeftFlags {
  std::string method = "prodial";
  prodial::PeftOptions opts;
  std::string targets;  // comma-separated; copied into opts.targets by resolve_peft_flags
  std::string layers;   // comma-separated layer indices; parsed into opts.layers
};
// The methods --peft accepts (prodial/registry.h's names).
const std::vector<std::string>& peft_method_names();
void add_peft_flags(CLI::App& app, PeftFlags& f);
// Fills opts.targets, opts.layers and opts.seed (from the common seed); range errors name the flag.
void resolve_peft_flags(PeftFlags& f, uint64_t seed);

// The training loop's flags. A program sets its defaults in the struct before add_train_flags.
struct TrainFlags {
  int64_t epochs = 0, steps = 0;  // --epochs given: steps is set to 0 (prepare_run); else steps counts
  int64_t batch_size = 32;
  double lr = 1e-3, weight_decay = 0.05;
  std::string schedule = "cosine";  // constant | cosine | linear | step
  int64_t warmup = 0;
  double grad_clip = 1.0;  // 0: off
  int64_t eval_every = 0;  // 0: only at the end
  std::string resume;      // a run directory to continue
  int64_t stop_after = 0;  // hidden --stop-after N: stop after step N as if interrupted (tests of --resume)
};
void add_train_flags(CLI::App& app, TrainFlags& f);
// Checks ranges (one line naming the flag).
void validate_train_flags(const TrainFlags& f);
// The optimizer steps of the run: steps, or epochs * batches per epoch.
int64_t total_steps(const TrainFlags& f, int64_t batches_per_epoch);

// A CLI::App whose options remember their defaults (so flags_json can report every value).
void capture_defaults(CLI::App& app);
// Every long flag of `app` -> its value after parsing (given or default), typed: numbers as numbers,
// flags as booleans, everything else as strings. --help is left out.
nlohmann::json flags_json(const CLI::App& app);
// Names of the flags given on the command line (without the dashes).
std::vector<std::string> given_flags(const CLI::App& app);

// --resume: `config` is the run's config.json ({"flags": ..., "given": [...]}). Every flag given now
// (except those in `may_differ`) must equal the run's value, else std::runtime_error
// "--resume: DIR was run with --lr 0.001, not --lr 0.01". Then re-parses `app` with the run's given
// flags plus the `may_differ` flags given now, so every variable holds what the run used.
void reparse_for_resume(CLI::App& app, const nlohmann::json& config, const std::string& dir,
                        const std::vector<std::string>& may_differ);

// Splits "a,b,,c" into {"a", "b", "c"} (spaces trimmed).
std::vector<std::string> split_list(const std::string& s);

// "a=1 b=2,3" (space-separated field=value items, mamba/config.h names) -> mamba::set_field on each;
// errors name `flag` and the item.
void apply_config_sets(mamba::VimConfig& cfg, const std::string& sets, const std::string& flag = "--set");

}  // namespace apps
