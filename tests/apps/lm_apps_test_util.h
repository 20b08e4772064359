// lm_apps_test_util.h: helpers of the LM program tests (generate, pretrain_lm, finetune_lm): the
// program runner of program_runner.h, a tiny byte-level LM directory (HF layout + tokenizer.json) and
// the parameter count of a MambaLM config.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "program_runner.h"
#include "datasets/bpe_tokenizer.h"
#include "mamba/checkpoint.h"
#include "mamba/config.h"
#include "mamba/lm.h"
#include "tensor/generator.h"

namespace lm_apps_test {

using apps_test::expect_one_line_error;
using apps_test::program_path;
using apps_test::read_text;
using apps_test::run_program;
using apps_test::RunResult;
using apps_test::shell_quote;
using apps_test::TempDir;
namespace fs = std::filesystem;

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
