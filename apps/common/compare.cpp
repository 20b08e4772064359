// compare.cpp: running one or several PEFT methods on the same budget, and their comparison table.
#include "apps/common/compare.h"

#include <cstdio>
#include <stdexcept>

#include <algorithm>

#include "apps/common/program.h"
#include "apps/common/run_dir.h"

namespace apps {

namespace {
std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
}  // namespace

std::string comparison_table(const std::vector<nlohmann::json>& rows, const std::vector<MetricColumn>& metrics) {
  std::string head = "| method |", rule = "|---|";
  for (const auto& m : metrics) head += " " + m.header + " |", rule += "---:|";
  std::string s = head + " trainable params | trainable % | seconds |\n" + rule + "---:|---:|---:|\n";
  for (const auto& r : rows) {
    s += "| " + r.at("method").get<std::string>() + " |";
    for (const auto& m : metrics) s += " " + fixed(r.value(m.key, 0.0), m.decimals) + " |";
    s += " " + std::to_string(r.at("trainable_params").get<int64_t>()) + " | " +
         fixed(r.at("trainable_percent").get<double>(), 2) + "% | " + fixed(r.at("train_seconds").get<double>(), 1) +
         " |\n";
  }
  return s;
}

std::vector<std::string> compared_methods(const std::string& first, const std::string& compare_list) {
  std::vector<std::string> methods = {first};
  const auto& known = peft_method_names();
  for (const auto& m : split_list(compare_list)) {
    if (std::find(known.begin(), known.end(), m) == known.end())
      throw std::invalid_argument("--compare: unknown method '" + m + "'");
    if (std::find(methods.begin(), methods.end(), m) == methods.end()) methods.push_back(m);
  }
  return methods;
}

nlohmann::json method_run_config(const CLI::App& app, const CommonFlags& common, const std::string& out,
                                 const std::string& method, double lr, const prodial::PeftSummary& summary) {
  CommonFlags c = common;
  c.out = out;
  nlohmann::json config = base_config(app, c);
  config["flags"]["peft"] = method;
  config["flags"]["lr"] = lr;
  config["flags"].erase("compare");
  auto& given = config["given"];
  given.erase(std::remove(given.begin(), given.end(), nlohmann::json("compare")), given.end());
  if (std::find(given.begin(), given.end(), nlohmann::json("peft")) == given.end()) given.push_back("peft");
  config["peft"] = summary.json();
  return config;
}

nlohmann::json run_methods(const std::string& program, const std::vector<std::string>& methods, const std::string& out,
                           bool resume, const RunMethod& run_one, const std::vector<MetricColumn>& metrics) {
  if (methods.size() == 1) return run_one(methods[0], out, resume);
  std::vector<nlohmann::json> rows;
  for (const auto& m : methods) {
    std::fprintf(stderr, "%s: --- %s ---\n", program.c_str(), m.c_str());
    rows.push_back(run_one(m, out + "/" + m, false));
  }
  const std::string table = comparison_table(rows, metrics);
  write_file_atomic(out + "/comparison.md", table);
  std::printf("\n%s\n", table.c_str());
  nlohmann::json r = rows[0];
  r["comparison"] = rows;
  r["run_dir"] = out;
  return r;
}

}  // namespace apps
