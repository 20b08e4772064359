// compare.h: `--compare`, shared by the fine-tuning programs: one method, or several on the same
// budget and data (each in its own run directory), followed by a markdown comparison table.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apps/common/cli.h"
#include "prodial/peft.h"

namespace apps {

// One metric column of the comparison table: its header, the result key it shows, its decimals.
struct MetricColumn {
  std::string header, key;
  int decimals = 4;
};

// | method | <metrics...> | trainable params | trainable % | seconds | over result rows holding
// "method", the metric keys, "trainable_params", "trainable_percent" and "train_seconds".
std::string comparison_table(const std::vector<nlohmann::json>& rows, const std::vector<MetricColumn>& metrics);

// run_one(method, run_dir, resume) trains and evaluates one method and returns its result. One method
// runs in `out` (resuming when asked) and its result is returned as is. Several run one after another,
// fresh, in out/<method>; then the table is printed on stdout and written to out/comparison.md, and
// the result is the first method's with "comparison" (every row) and "run_dir" added.
// The methods to run: `first` (--peft), then those of the comma-separated --compare list not already
// there; an unknown name is a one-line error naming --compare.
std::vector<std::string> compared_methods(const std::string& first, const std::string& compare_list);

// config.json of one method's run: base_config with the run's own directory, --peft recorded as if
// given (so --resume re-applies it), the resolved --lr, --compare dropped, and the PEFT summary
// under "peft". Programs add their own keys (model, resolved sizes) before writing it.
nlohmann::json method_run_config(const CLI::App& app, const CommonFlags& common, const std::string& out,
                                 const std::string& method, double lr, const prodial::PeftSummary& summary);

using RunMethod = std::function<nlohmann::json(const std::string& method, const std::string& run_dir, bool resume)>;
nlohmann::json run_methods(const std::string& program, const std::vector<std::string>& methods, const std::string& out,
                           bool resume, const RunMethod& run_one, const std::vector<MetricColumn>& metrics);

}  // namespace apps
