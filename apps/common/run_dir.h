// run_dir.h: a program's run directory: config.json (every flag resolved), metrics.jsonl (one JSON
// object per line, appended as the run goes), and files written atomically (a temp file in the same
// folder, then rename), so a crash never leaves a half-written file behind.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace apps {

// Writes `bytes` to path.tmp.<pid>, then renames it over `path`; errors name the path.
void write_file_atomic(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

class RunDir {
 public:
  RunDir() = default;
  // A fresh run (resume false): creates `path` (and parents); a directory that already holds a run
  // (config.json) is refused, naming --out and --resume. resume true: `path` must hold a run.
  RunDir(const std::string& path, bool resume);

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  void write_config(const nlohmann::json& config) const;  // config.json, atomically
  nlohmann::json read_config() const;
  void append_metrics(const nlohmann::json& line) const;  // one line to metrics.jsonl
  std::vector<nlohmann::json> read_metrics() const;       // every well-formed line
  // Drops the lines whose "step" is beyond `step` (written after the checkpoint a resume starts from).
  void truncate_metrics_after(int64_t step) const;

 private:
  std::string path_;
};

}  // namespace apps
