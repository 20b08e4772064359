// run_dir.cpp: run directories and atomic file writes.
#include "apps/common/run_dir.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace apps {

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error(path + ": cannot open for writing");
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw std::runtime_error(path + ": write failed");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot rename the temporary file into place");
  }
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

RunDir::RunDir(const std::string& path, bool resume) : path_(path) {
  std::error_code ec;
  if (resume) {
    if (!fs::is_directory(path, ec)) throw std::runtime_error("--resume: " + path + " is not a directory");
    if (!fs::exists(path + "/config.json", ec))
      throw std::runtime_error("--resume: " + path + " holds no run (no config.json)");
    return;
  }
  if (fs::exists(path + "/config.json", ec))
    throw std::runtime_error("--out: " + path + " already holds a run; use --resume " + path + " or another --out");
  fs::create_directories(path, ec);
  if (ec || !fs::is_directory(path)) throw std::runtime_error("--out: cannot create directory " + path);
}

void RunDir::write_config(const nlohmann::json& config) const {
  write_file_atomic(file("config.json"), config.dump(2) + "\n");
}

nlohmann::json RunDir::read_config() const {
  const std::string p = file("config.json");
  try {
    return nlohmann::json::parse(read_file(p));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(p + ": not valid JSON (" + std::string(e.what()) + ")");
  }
}

void RunDir::append_metrics(const nlohmann::json& line) const {
  std::ofstream f(file("metrics.jsonl"), std::ios::app);
  if (!f) throw std::runtime_error(file("metrics.jsonl") + ": cannot open for appending");
  f << line.dump() << "\n";
  f.flush();
}

std::vector<nlohmann::json> RunDir::read_metrics() const {
  std::vector<nlohmann::json> out;
  std::ifstream f(file("metrics.jsonl"));
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception&) {
      // a line cut short by a crash: skipped
    }
  }
  return out;
}

void RunDir::truncate_metrics_after(int64_t step) const {
  std::string kept;
  for (const auto& j : read_metrics())
    if (!j.contains("step") || j["step"].get<int64_t>() <= step) kept += j.dump() + "\n";
  write_file_atomic(file("metrics.jsonl"), kept);
}

}  // namespace apps
