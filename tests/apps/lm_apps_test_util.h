// lm_apps_test_util.h: helpers of the LM program tests (generate, pretrain_lm, finetune_lm): run a
// built program with arguments and capture its exit status, stdout and stderr; the last stdout line
// as JSON; scratch directories; a tiny byte-level LM directory (HF layout + tokenizer.json).
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/bpe_tokenizer.h"
#include "mamba/checkpoint.h"
#include "mamba/config.h"
#include "mamba/lm.h"
#include "tensor/generator.h"

namespace lm_apps_test {

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
  explicit TempDir(const std::string& tag = "lmapps") {
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
  static TempDir scratch("lmapps-io");
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

// A randomly initialised MambaLM over bytes (vocabulary 256, so no padding rows), saved in the HF
// layout with the byte-level tokenizer.json; returns the model as saved.
inline std::shared_ptr<mamba::MambaLM> make_byte_lm_dir(const std::string& dir, uint64_t seed = 7, int64_t d_model = 16,
                                                        int64_t n_layer = 2) {
  mamba::MambaConfig c = mamba::mamba_preset("mamba-tiny");
  c.vocab_size = 256;
  c.d_model = d_model;
  c.n_layer = n_layer;
  c.initializer_range = 0.5;  // spread-out logits, so greedy choices are far from ties
  tensor::Generator gen(seed);
  auto model = std::make_shared<mamba::MambaLM>(c, &gen);
  mamba::save_mamba_lm(*model, dir);
  datasets::write_byte_level_tokenizer_json(dir + "/tokenizer.json");
  return model;
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

}  // namespace lm_apps_test

namespace lm_apps_test {

// Parameters of a MambaLM counted from its config by the formulas of the architecture (spec §1-2):
// the tied embedding Vp x d once, per layer the norm d, in_proj d x 2E, conv E x K (+ E bias),
// x_proj E x (R + 2N), dt_proj R x E + E, A_log E x N, D E, out_proj E x d; then norm_f d.
inline int64_t lm_param_count(const mamba::MambaConfig& c) {
  const int64_t d = c.d_model, E = c.inner(), N = c.d_state, K = c.d_conv, R = c.rank();
  const int64_t layer = d + d * 2 * E + E * K + (c.conv_bias ? E : 0) + E * (R + 2 * N) + R * E + E + E * N + E + E * d;
  return c.padded_vocab() * d + c.n_layer * layer + d;
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Some English-looking bytes for training and evaluation.
inline std::string sample_text(size_t bytes, uint64_t seed = 1) {
  static const char* words[] = {"the ", "whale ", "sea ", "ship ", "and ", "of ", "a ", "captain ", "white ", "to ",
                                "in ", "was ", "his ", "that ", "it ", "with ", "harpoon ", "boat ", "\n"};
  std::mt19937_64 rng(seed);
  std::string s;
  while (s.size() < bytes) s += words[rng() % (sizeof(words) / sizeof(words[0]))];
  s.resize(bytes);
  return s;
}

}  // namespace lm_apps_test
