// program.h: the output contract every program keeps. run_program parses the command line and runs
// the program's body: --help prints the usage and exits 0; a bad flag or any exception prints one
// line "<program>: error: <message>" on stderr and exits 1. print_result prints the final metrics as
// one JSON object, the last line of stdout.
#pragma once
#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apps/common/cli.h"
#include "apps/common/run_dir.h"

namespace apps {

// `body` returns the exit status (0 on success). First, once, the program re-executes itself with
// OMP_WAIT_POLICY=PASSIVE unless that is set (settle_thread_runtime).
int run_program(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

void settle_thread_runtime(char** argv);

// One line of JSON on stdout (flushed): the program's final metrics.
void print_result(const nlohmann::json& result);

// Parameter counts as the contract names them: {"trainable_params", "total_params", "trainable_percent"}.
nlohmann::json param_counts(int64_t trainable, int64_t total);

// After parsing: with --resume, re-parses `app` with the flags the run was started with (flags given
// now must agree, except --resume/--out/--threads/--device/--stop-after) and points --out at it; then resolves
// the common flags. Returns whether this is a resumed run. Creates nothing.
bool prepare_run(CLI::App& app, CommonFlags& common, TrainFlags& train, const std::string& program);

// config.json's base: {"program", "flags": every flag resolved, "given": the flags given}.
nlohmann::json base_config(const CLI::App& app, const CommonFlags& common);

}  // namespace apps
