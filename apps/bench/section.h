// section.h: what the bench program's sections share: the options, the section registry, timing
// (best of N after a warm-up), a plain-text table printer and a tiny JSON object writer.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace bench {

struct Options {
  int repeats = 5;  // timed runs per measurement; the best one counts
  int warmup = 2;   // untimed runs first (page faults, thread start-up, caches)
};

// A JSON object with keys in insertion order; values are numbers, strings or nested objects.
class Json {
 public:
  Json& num(const std::string& key, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return raw(key, buf);
  }
  Json& str(const std::string& key, const std::string& v) { return raw(key, "\"" + v + "\""); }
  Json& obj(const std::string& key, const Json& v) { return raw(key, v.dump()); }
  Json& null(const std::string& key) { return raw(key, "null"); }
  bool empty() const { return fields_.empty(); }
  std::string dump() const {
    std::string s = "{";
    for (size_t i = 0; i < fields_.size(); ++i)
      s += (i ? "," : "") + ("\"" + fields_[i].first + "\":") + fields_[i].second;
    return s + "}";
  }

 private:
  Json& raw(const std::string& key, const std::string& v) {
    fields_.emplace_back(key, v);
    return *this;
  }
  std::vector<std::pair<std::string, std::string>> fields_;
};

// A section prints its table to stdout and returns its numbers for the final JSON line.
struct Section {
  std::string name;
  std::string what;
  std::function<Json(const Options&)> run;
};

// Every section; main.cpp lists them. Add a section by writing <name>_section.cpp and one line there.
Json matmul_section(const Options& opt);
Json datasets_section(const Options& opt);
Json cuda_memory_section(const Options& opt);
Json cuda_matmul_section(const Options& opt);
Json mamba_scan_section(const Options& opt);
// `bench lm-train ...` (argv[0] is "lm-train"): MambaLM training-step timing, one JSON line.
int lm_train_main(int argc, char** argv);

// Seconds of the fastest of opt.repeats runs of f, after opt.warmup untimed runs.
template <typename F> double best_seconds(const Options& opt, F&& f) {
  for (int i = 0; i < opt.warmup; ++i) f();
  double best = 1e300;
  for (int i = 0; i < std::max(1, opt.repeats); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// A left-aligned first column and right-aligned numeric columns, each as wide as its widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(FILE* out = stdout) const {
    std::vector<size_t> w(rows_[0].size(), 0);
    for (const auto& r : rows_)
      for (size_t c = 0; c < r.size() && c < w.size(); ++c) w[c] = std::max(w[c], r[c].size());
    for (size_t r = 0; r < rows_.size(); ++r) {
      std::string line;
      for (size_t c = 0; c < w.size(); ++c) {
        const std::string& cell = c < rows_[r].size() ? rows_[r][c] : std::string();
        const std::string pad(w[c] - cell.size(), ' ');
        line += c == 0 ? cell + pad : "  " + pad + cell;
      }
      std::fprintf(out, "%s\n", line.c_str());
      if (r == 0) std::fprintf(out, "%s\n", std::string(line.size(), '-').c_str());
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

inline std::string fixed(double v, int digits) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(digits);
  os << v;
  return os.str();
}

}  // namespace bench
