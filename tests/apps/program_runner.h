// program_runner.h: what the program tests under tests/apps share: where the built programs are, running
// one with arguments and capturing its exit status, stdout and stderr, the last stdout line as JSON,
// scratch directories, and the one-line error check of the output contract.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace apps_test {

namespace fs = std::filesystem;

// Where the programs are built: $PM_APPS_BIN_DIR, else <this test's build dir>/../apps.
inline std::string program_path(const std::string& name) {
  if (const char* d = std::getenv("PM_APPS_BIN_DIR")) return std::string(d) + "/" + name + "/" + name;
  const fs::path self = fs::read_symlink("/proc/self/exe");
  return (self.parent_path().parent_path() / "apps" / name / name).string();
}

struct RunResult {
  int rc = -1;
  std::string out, err;
  // The last non-empty stdout line, parsed (null when it is not JSON).
  nlohmann::json last_json() const {
    std::istringstream ss(out);
    std::string line, last;
    while (std::getline(ss, line))
      if (!line.empty()) last = line;
    return nlohmann::json::parse(last, nullptr, false).is_discarded() ? nlohmann::json() : nlohmann::json::parse(last);
  }
  // The non-empty stderr lines.
  std::vector<std::string> err_lines() const {
    std::vector<std::string> v;
    std::istringstream ss(err);
    std::string line;
    while (std::getline(ss, line))
      if (!line.empty()) v.push_back(line);
    return v;
  }
};

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A scratch directory, removed when the object goes away.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "apps") {
    std::random_device rd;
    path_ = (fs::temp_directory_path() / (tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd()))).string();
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs program `name` with `args` (2 threads, no GPU unless the args ask), capturing both streams.
inline RunResult run_program(const std::string& name, const std::vector<std::string>& args) {
  static TempDir scratch("apps-io");
  static int counter = 0;
  const std::string out = scratch / ("out" + std::to_string(counter)), err = scratch / ("err" + std::to_string(counter));
  ++counter;
  std::string cmd = shell_quote(program_path(name));
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote(out) + " 2>" + shell_quote(err) + " </dev/null";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

// Expects a failed run: exit status 1 and a single stderr line "<program>: error: ..." containing `part`.
inline void expect_one_line_error(const RunResult& r, const std::string& program, const std::string& part) {
  EXPECT_NE(r.rc, 0) << r.out;
  const auto lines = r.err_lines();
  ASSERT_FALSE(lines.empty()) << "no error message";
  const std::string& last = lines.back();
  EXPECT_EQ(last.rfind(program + ": error: ", 0), 0u) << last;
  EXPECT_NE(last.find(part), std::string::npos) << "'" << last << "' lacks '" << part << "'";
}

}  // namespace apps_test
