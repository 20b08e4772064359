// analysis.h: the paper's study of T (prodial-method.md §3). A projector fine-tuned from W to W' is
// read as W' = W T, with T = W⁺ W' computed in float64 on the CPU (W⁺ the Moore–Penrose
// pseudo-inverse through our own SVD, prodial/linalg64.h). W and W' are [d_out, d_in], so T is
// [d_in, d_in]; the paper found T close to the identity, which motivates ProDiaL's diagonal-centric
// parameterisation.
//
// For a wide projector (d_out < d_in, Mamba's out_proj) W⁺W is a rank-d_out projection P, not I, so T
// cannot be near I; rel_dev_projection (‖T − P‖_F / ‖P‖_F) is the comparable measure there
// (prodial-method.md §1.3 item 3).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/module.h"
#include "prodial/linalg64.h"

namespace prodial {

// Statistics of one projector's T.
struct TransformStats {
  std::string name;        // dotted parameter name ("backbone.layers.3.mixer.in_proj.weight")
  int64_t layer = -1;      // layer index, -1 when not from a model
  std::string projector;   // "in" | "out" ("" when not from a model)
  int64_t d_out = 0, d_in = 0;
  int64_t rank = 0;        // singular values of W kept by the pseudo-inverse
  double rcond = 0;        // relative cut-off used: kept σ > rcond · σ_max
  double sigma_max = 0, sigma_min_kept = 0;
  double diag_mean = 0;           // mean of T_ii
  double offdiag_abs_mean = 0;    // mean of |T_ij| over i != j
  double rel_dev_identity = 0;    // ‖T − I‖_F / ‖I‖_F
  double rel_dev_projection = 0;  // ‖T − P‖_F / ‖P‖_F with P = W⁺W (= I when W has full column rank)
  int64_t block_count = 0;        // r_b: number of diagonal blocks of size d_in / r_b
  double block_energy_share = 0;  // Σ T_ij² inside the r_b diagonal blocks / Σ T_ij²
  double diag_energy_share = 0;   // Σ T_ii² / Σ T_ij²
  double fit_residual = 0;        // ‖W T − W'‖_F / ‖W'‖_F: the part of W' outside W's column space
  double rel_weight_change = 0;   // ‖W' − W‖_F / ‖W‖_F

  nlohmann::json json() const;
};

// The statistics that depend on T alone (diagonal mean, off-diagonal mean, deviation from I, energy
// shares) written into `out`. T must be square and block_count must divide its size
// (std::invalid_argument naming both otherwise).
void fill_matrix_stats(const linalg64::Matrix& T, int64_t block_count, TransformStats& out);

// One projector: T = pinv(W, rcond) · W' and every statistic. W and W' must have the same shape.
struct TransformResult {
  TransformStats stats;
  linalg64::Matrix T;
};
TransformResult analyze_projector(const linalg64::Matrix& W, const linalg64::Matrix& W_ft, double rcond,
                                  int64_t block_count);

// The projector weights of a Mamba LM or Vision Mamba: every parameter named
// "...layers.<i>.mixer.<in|out>_proj.weight", in model order, filtered by layer index (empty: all)
// and projector ("in", "out"; empty: both). A requested layer that the model lacks throws.
struct ProjectorWeight {
  std::string name;
  int64_t layer = 0;
  std::string projector;
  tensor::Tensor weight;
};
std::vector<ProjectorWeight> projector_weights(const nn::Module& model, const std::vector<int64_t>& layers = {},
                                               const std::vector<std::string>& projectors = {});

struct ProjectorAnalysis;

struct AnalysisOptions {
  std::vector<int64_t> layers;                          // empty: every layer
  std::vector<std::string> projectors = {"in", "out"};  // "in", "out"
  int64_t block_count_in = 8, block_count_out = 8;      // r_b for in_proj's and out_proj's T
  double rcond = 1e-6;  // float32 weights carry ~1e-7 relative noise: smaller σ are treated as 0
  int threads = 1;      // projectors analysed in parallel
  int64_t keep_corner = 128;  // keep T's top-left corner of this size (0: whole T, < 0: none)
  // Called after each projector (one call at a time, from the worker threads), e.g. for progress.
  std::function<void(const ProjectorAnalysis& done, size_t finished, size_t total)> on_done;
};

struct ProjectorAnalysis {
  TransformStats stats;
  linalg64::Matrix T_corner;  // T's top-left min(keep_corner, d_in) square
  double seconds = 0;         // time spent on this projector
};

// The selected projectors of two models, paired by name in model order, after checking what
// analyze_models needs (std::invalid_argument naming the parameter when a projector is missing from
// one model or the shapes differ, naming the block count when it does not divide a d_in).
struct ProjectorPair {
  ProjectorWeight pretrained, finetuned;
};
std::vector<ProjectorPair> match_projectors(const nn::Module& pretrained, const nn::Module& finetuned,
                                            const AnalysisOptions& opts);

// Every selected projector of two models of the same architecture (errors as match_projectors), in
// model order.
std::vector<ProjectorAnalysis> analyze_models(const nn::Module& pretrained, const nn::Module& finetuned,
                                              const AnalysisOptions& opts);

}  // namespace prodial
