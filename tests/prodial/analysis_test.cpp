// analysis_test.cpp: the T analysis. Our SVD, pseudo-inverse, T and its statistics against numpy
// (tests/reference/make_analysis_fixture.py -> tests/data/analysis_fixture.json); the identities
// T = I for W' = W and T = D for W' = W D; the statistics of a hand-built T; heat maps written as PNG
// and decoded back by stb_image; and the sweep over two in-memory Vision Mamba / Mamba LM models.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "common/test_util.h"
#include "datasets/image_decode.h"
#include "mamba/config.h"
#include "mamba/lm.h"
#include "mamba/vision.h"
#include "prodial/analysis.h"
#include "prodial/heatmap.h"
#include "prodial/linalg64.h"
#include "tensor/ops.h"

namespace {

using prodial::linalg64::Matrix;
namespace la = prodial::linalg64;

Matrix from_json(const nlohmann::json& j) {
  const int64_t m = static_cast<int64_t>(j.size()), n = m ? static_cast<int64_t>(j[0].size()) : 0;
  Matrix a(m, n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t k = 0; k < n; ++k) a(i, k) = j[i][k].get<double>();
  return a;
}

Matrix random_matrix(int64_t m, int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  Matrix a(m, n);
  for (double& x : a.data) x = nd(rng);
  return a;
}

// max |a - b| / max(max |b|, floor)
double rel_diff(const Matrix& a, const Matrix& b, double floor = 1e-300) {
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.cols, b.cols);
  if (a.rows != b.rows || a.cols != b.cols) return INFINITY;
  double d = 0, s = floor;
  for (size_t i = 0; i < a.data.size(); ++i) {
    d = std::max(d, std::fabs(a.data[i] - b.data[i]));
    s = std::max(s, std::fabs(b.data[i]));
  }
  return d / s;
}

// U diag(S) V^T
Matrix reconstruct(const la::SVD& s) {
  Matrix us = s.U;
  for (int64_t i = 0; i < us.rows; ++i)
    for (int64_t j = 0; j < us.cols; ++j) us(i, j) *= s.S[j];
  return la::matmul(us, la::transpose(s.V));
}

// max |X^T X - I| over the first `k` columns of X
double orthonormality_error(const Matrix& x, int64_t k) {
  double worst = 0;
  for (int64_t a = 0; a < k; ++a)
    for (int64_t b = 0; b < k; ++b) {
      double d = 0;
      for (int64_t i = 0; i < x.rows; ++i) d += x(i, a) * x(i, b);
      worst = std::max(worst, std::fabs(d - (a == b ? 1.0 : 0.0)));
    }
  return worst;
}

nlohmann::json load_fixture() {
  std::ifstream f(pm_test::data_path("analysis_fixture.json"));
  EXPECT_TRUE(f.good()) << "missing tests/data/analysis_fixture.json (tests/reference/make_analysis_fixture.py)";
  return nlohmann::json::parse(f);
}

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag)
      : path_((std::filesystem::temp_directory_path() / ("pm_analysis_" + tag + "_" + std::to_string(::getpid()))).string()) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }

 private:
  std::string path_;
};

// ---- linear algebra against numpy ----------------------------------------------------------------------

TEST(AnalysisLinalg, SvdAndPinvMatchNumpy) {
  const nlohmann::json fx = load_fixture();
  ASSERT_GE(fx["cases"].size(), 7u);
  for (const auto& c : fx["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const Matrix W = from_json(c["W"]);
    const double rcond = c["rcond"].get<double>();
    const la::SVD s = la::svd(W);
    const auto S_np = c["S"].get<std::vector<double>>();
    ASSERT_EQ(s.S.size(), S_np.size());
    const double smax = std::max(S_np[0], 1e-300);
    for (size_t i = 0; i < S_np.size(); ++i) EXPECT_NEAR(s.S[i], S_np[i], 1e-13 * smax) << "singular value " << i;
    // the factorisation itself: W = U S V^T with orthonormal U and V (also for the zero matrix)
    EXPECT_LT(rel_diff(reconstruct(s), W, 1.0), 1e-13);
    EXPECT_LT(orthonormality_error(s.V, s.V.cols), 1e-13);
    EXPECT_LT(orthonormality_error(s.U, s.U.cols), 1e-12);

    int64_t rank = -1;
    const Matrix P = la::pinv(s, rcond, &rank);
    EXPECT_EQ(rank, c["stats"]["rank"].get<int64_t>());
    // the ill-conditioned case keeps 1 / 7.2e-6, so allow for its condition number
    EXPECT_LT(rel_diff(P, from_json(c["pinv"]), 1e-300), c["name"] == "square_ill_conditioned" ? 1e-8 : 1e-12);
  }
}

TEST(AnalysisLinalg, HouseholderQrFactorsATallMatrix) {
  const Matrix A = random_matrix(37, 11, 7);
  const la::QR qr = la::householder_qr(A);
  ASSERT_EQ(qr.Q.rows, 37);
  ASSERT_EQ(qr.Q.cols, 11);
  EXPECT_LT(orthonormality_error(qr.Q, 11), 1e-14);
  for (int64_t i = 0; i < 11; ++i)
    for (int64_t j = 0; j < i; ++j) EXPECT_EQ(qr.R(i, j), 0.0);
  EXPECT_LT(rel_diff(la::matmul(qr.Q, qr.R), A), 1e-14);
  EXPECT_TRUE(pm_test::throws_with([&] { la::householder_qr(random_matrix(3, 5, 1)); }, {"householder_qr", "[3, 5]"}));
}

TEST(AnalysisLinalg, JacobiSvdOfAMediumMatrix) {
  // A Vim-tiny-sized in_proj shape scaled down: tall, with a spread of singular values.
  Matrix A = random_matrix(160, 80, 11);
  for (int64_t j = 0; j < 80; ++j)
    for (int64_t i = 0; i < 160; ++i) A(i, j) *= std::pow(10.0, -3.0 * j / 79.0);
  int sweeps = 0;
  const la::SVD s = la::svd(A, &sweeps);
  EXPECT_LT(rel_diff(reconstruct(s), A), 1e-13);
  EXPECT_LT(orthonormality_error(s.U, 80), 1e-12);
  EXPECT_LT(orthonormality_error(s.V, 80), 1e-12);
  EXPECT_TRUE(std::is_sorted(s.S.rbegin(), s.S.rend()));
  EXPECT_LE(sweeps, 20);
  // pinv(A) A = I for a full-column-rank A
  EXPECT_LT(rel_diff(la::matmul(la::pinv(s, 1e-12), A), Matrix::identity(80)), 1e-9);
}

// ---- T and its statistics --------------------------------------------------------------------------------

TEST(AnalysisTransform, StatsMatchNumpy) {
  const nlohmann::json fx = load_fixture();
  for (const auto& c : fx["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const prodial::TransformResult r = prodial::analyze_projector(from_json(c["W"]), from_json(c["W_ft"]),
                                                                  c["rcond"].get<double>(), c["block_count"].get<int64_t>());
    const bool ill = c["name"] == "square_ill_conditioned";
    EXPECT_LT(rel_diff(r.T, from_json(c["T"]), 1e-300), ill ? 1e-8 : 1e-12);
    const auto& e = c["stats"];
    const prodial::TransformStats& s = r.stats;
    EXPECT_EQ(s.rank, e["rank"].get<int64_t>());
    EXPECT_EQ(s.d_out, static_cast<int64_t>(c["W"].size()));
    EXPECT_EQ(s.d_in, static_cast<int64_t>(c["W"][0].size()));
    EXPECT_EQ(s.block_count, c["block_count"].get<int64_t>());
    const double tol = ill ? 1e-7 : 1e-11;
    auto near = [&](double got, const char* key) {
      const double want = e[key].get<double>();
      EXPECT_NEAR(got, want, tol * std::max(1.0, std::fabs(want))) << key;
    };
    near(s.sigma_max, "sigma_max");
    near(s.sigma_min_kept, "sigma_min_kept");
    near(s.diag_mean, "diag_mean");
    near(s.offdiag_abs_mean, "offdiag_abs_mean");
    near(s.rel_dev_identity, "rel_dev_identity");
    near(s.rel_dev_projection, "rel_dev_projection");
    near(s.block_energy_share, "block_energy_share");
    near(s.diag_energy_share, "diag_energy_share");
    near(s.fit_residual, "fit_residual");
    near(s.rel_weight_change, "rel_weight_change");
    // the JSON form carries the same numbers
    const nlohmann::json j = s.json();
    EXPECT_EQ(j["rank"].get<int64_t>(), s.rank);
    EXPECT_EQ(j["diag_mean"].get<double>(), s.diag_mean);
  }
}

TEST(AnalysisTransform, IdentityWhenUnchangedAndDiagonalWhenScaled) {
  const Matrix W = random_matrix(48, 24, 3);  // tall, full column rank (in_proj-like)
  prodial::TransformResult same = prodial::analyze_projector(W, W, 1e-10, 6);
  EXPECT_LT(rel_diff(same.T, Matrix::identity(24), 1.0), 1e-12);
  EXPECT_EQ(same.stats.rank, 24);
  EXPECT_NEAR(same.stats.diag_mean, 1.0, 1e-12);
  EXPECT_NEAR(same.stats.offdiag_abs_mean, 0.0, 1e-12);
  EXPECT_NEAR(same.stats.rel_dev_identity, 0.0, 1e-12);
  EXPECT_NEAR(same.stats.rel_dev_projection, 0.0, 1e-12);
  EXPECT_NEAR(same.stats.block_energy_share, 1.0, 1e-12);
  EXPECT_NEAR(same.stats.fit_residual, 0.0, 1e-12);
  EXPECT_EQ(same.stats.rel_weight_change, 0.0);

  // W' = W D: T = D exactly (up to rounding), the diagonal holds all the energy
  Matrix D(24, 24);
  double dsum = 0;
  for (int64_t i = 0; i < 24; ++i) dsum += (D(i, i) = 0.5 + 0.05 * static_cast<double>(i));
  prodial::TransformResult scaled = prodial::analyze_projector(W, la::matmul(W, D), 1e-10, 4);
  EXPECT_LT(rel_diff(scaled.T, D), 1e-12);
  EXPECT_NEAR(scaled.stats.diag_mean, dsum / 24, 1e-12);
  EXPECT_NEAR(scaled.stats.diag_energy_share, 1.0, 1e-12);
  EXPECT_NEAR(scaled.stats.fit_residual, 0.0, 1e-12);

  // a wide W (out_proj-like): W⁺W is a rank-12 projection, so T = P for W' = W, far from I
  const Matrix Wide = random_matrix(12, 24, 5);
  prodial::TransformResult wide = prodial::analyze_projector(Wide, Wide, 1e-10, 4);
  EXPECT_EQ(wide.stats.rank, 12);
  EXPECT_NEAR(wide.stats.rel_dev_projection, 0.0, 1e-12);
  EXPECT_NEAR(wide.stats.diag_mean, 0.5, 1e-12);                      // trace(P) / n = 12 / 24
  EXPECT_NEAR(wide.stats.rel_dev_identity, std::sqrt(0.5), 1e-12);   // ‖P − I‖_F² = n − rank

  EXPECT_TRUE(pm_test::throws_with([&] { prodial::analyze_projector(W, Wide, 1e-10, 4); },
                                   {"analyze_projector", "[48, 24]", "[12, 24]"}));
  Matrix bad = W;
  bad(3, 4) = NAN;
  EXPECT_TRUE(pm_test::throws_with([&] { prodial::analyze_projector(W, bad, 1e-10, 4); }, {"W'", "non-finite"}));
}

TEST(AnalysisTransform, StatsOfAHandBuiltT) {
  // blocks of 2: {0,1} and {2,3}
  Matrix T(4, 4);
  const double v[16] = {1, 2, 0, 0, 3, 4, 0, 5, 0, 0, -1, 0, 0, 6, 0, 2};
  std::copy(v, v + 16, T.data.begin());
  prodial::TransformStats s;
  prodial::fill_matrix_stats(T, 2, s);
  EXPECT_DOUBLE_EQ(s.diag_mean, (1 + 4 - 1 + 2) / 4.0);
  EXPECT_DOUBLE_EQ(s.offdiag_abs_mean, (2 + 3 + 5 + 6) / 12.0);
  // ‖T − I‖² = (0 + 9 + 4 + 1) + (4 + 9 + 25 + 36) = 88, ‖I‖² = 4
  EXPECT_DOUBLE_EQ(s.rel_dev_identity, std::sqrt(88.0 / 4.0));
  // energy 96; inside the blocks 1 + 4 + 9 + 16 + 1 + 4 = 35; diagonal 1 + 16 + 1 + 4 = 22
  EXPECT_DOUBLE_EQ(s.block_energy_share, 35.0 / 96.0);
  EXPECT_DOUBLE_EQ(s.diag_energy_share, 22.0 / 96.0);
  EXPECT_EQ(s.block_count, 2);
  prodial::fill_matrix_stats(T, 1, s);  // one block: everything inside
  EXPECT_DOUBLE_EQ(s.block_energy_share, 1.0);
  prodial::fill_matrix_stats(T, 4, s);  // r_b = d_in: the diagonal
  EXPECT_DOUBLE_EQ(s.block_energy_share, 22.0 / 96.0);
  EXPECT_TRUE(pm_test::throws_with([&] { prodial::fill_matrix_stats(T, 3, s); }, {"block count 3", "d_in 4"}));
  EXPECT_TRUE(pm_test::throws_with([&] { prodial::fill_matrix_stats(Matrix(2, 3), 1, s); }, {"square", "[2, 3]"}));
}

// ---- heat maps ------------------------------------------------------------------------------------------

TEST(AnalysisHeatmap, ColourMapIsCentredAndClipped) {
  EXPECT_EQ(prodial::diverging_colour(0.0), (std::array<uint8_t, 3>{255, 255, 255}));
  EXPECT_EQ(prodial::diverging_colour(1.0), (std::array<uint8_t, 3>{103, 0, 31}));
  EXPECT_EQ(prodial::diverging_colour(-1.0), (std::array<uint8_t, 3>{5, 48, 97}));
  EXPECT_EQ(prodial::diverging_colour(7.0), prodial::diverging_colour(1.0));
  EXPECT_EQ(prodial::diverging_colour(-7.0), prodial::diverging_colour(-1.0));
  // positive values are red-dominant, negative blue-dominant, and darker further from 0
  for (double t : {0.1, 0.4, 0.8}) {
    const auto p = prodial::diverging_colour(t), n = prodial::diverging_colour(-t);
    EXPECT_GT(p[0], p[2]);
    EXPECT_GT(n[2], n[0]);
  }
  auto brightness = [](std::array<uint8_t, 3> c) { return int(c[0]) + c[1] + c[2]; };
  EXPECT_GT(brightness(prodial::diverging_colour(0.2)), brightness(prodial::diverging_colour(0.6)));
  EXPECT_GT(brightness(prodial::diverging_colour(-0.2)), brightness(prodial::diverging_colour(-0.6)));
}

TEST(AnalysisHeatmap, WritesADecodablePngOfTheRightSize) {
  ScratchDir dir("heatmap");
  Matrix m(6, 6);
  m(0, 0) = 1.0;    // +clip: dark red
  m(1, 1) = -1.0;   // -clip: dark blue
  m(2, 2) = 5.0;    // clipped to +clip
  m(3, 3) = 0.5;
  prodial::HeatmapOptions opts;
  opts.clip = 1.0;
  opts.cell_px = 10;
  const std::string path = dir / "t.png";
  prodial::write_heatmap_png(path, m, opts);
  const prodial::RgbImage ref = prodial::render_heatmap(m, opts);
  const tensor::Tensor img = datasets::load_image(path, 3);  // [3, H, W] through stb_image
  ASSERT_EQ(img.shape(), (tensor::Shape{3, ref.height, ref.width}));
  const prodial::HeatmapGeometry g = prodial::heatmap_geometry(m, opts);
  EXPECT_EQ(g.cell_px, 10);
  EXPECT_GE(ref.width, g.map_x + 60 + 16);   // the map plus a colour bar
  EXPECT_GE(ref.height, g.map_y + 60);
  auto px = [&](int64_t row, int64_t col) {  // centre of the cell of entry (row, col), decoded
    const int64_t x = g.map_x + col * g.cell_px + g.cell_px / 2, y = g.map_y + row * g.cell_px + g.cell_px / 2;
    return std::array<uint8_t, 3>{static_cast<uint8_t>(img.at({0, y, x})), static_cast<uint8_t>(img.at({1, y, x})),
                                  static_cast<uint8_t>(img.at({2, y, x}))};
  };
  EXPECT_EQ(px(0, 0), prodial::diverging_colour(1.0));
  EXPECT_EQ(px(1, 1), prodial::diverging_colour(-1.0));
  EXPECT_EQ(px(2, 2), prodial::diverging_colour(1.0));
  EXPECT_EQ(px(3, 3), prodial::diverging_colour(0.5));
  EXPECT_EQ(px(0, 5), (std::array<uint8_t, 3>{255, 255, 255}));  // zero is white
  // the colour bar: +clip at the top, -clip at the bottom
  const int64_t bar_x = g.map_x + 6 * g.cell_px + 12 + 8;
  EXPECT_EQ(ref.pixel(bar_x, g.map_y), prodial::diverging_colour(1.0));
  // no temp file left behind
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "")) files += e.is_regular_file();
  EXPECT_EQ(files, 1);

  // auto clip: max |value| = 5, so 5 is the darkest red and 1 a light one
  opts.clip = 0;
  EXPECT_EQ(prodial::heatmap_clip(m, opts), 5.0);
  const prodial::RgbImage autoc = prodial::render_heatmap(m, opts);
  EXPECT_EQ(autoc.pixel(g.map_x + 25, g.map_y + 25), prodial::diverging_colour(1.0));
  EXPECT_EQ(autoc.pixel(g.map_x + 5, g.map_y + 5), prodial::diverging_colour(0.2));

  EXPECT_TRUE(pm_test::throws_with([&] { prodial::render_heatmap(Matrix(0, 3)); }, {"render_heatmap", "empty"}));
  EXPECT_TRUE(pm_test::throws_with([&] { prodial::write_heatmap_png(dir / "missing/x.png", m); }, {"write_png", "missing"}));
}

// ---- two models ------------------------------------------------------------------------------------------

// Multiplies `name`'s weight [d_out, d_in] on the right by diag(1 + 0.01 k) (column k scaled).
void scale_columns(nn::Module& model, const std::string& name) {
  tensor::Tensor w = model.parameter(name).data();
  ASSERT_EQ(w.dtype(), tensor::DType::Float32);
  float* p = w.data<float>();
  for (int64_t i = 0; i < w.size(0); ++i)
    for (int64_t k = 0; k < w.size(1); ++k) p[i * w.size(1) + k] *= static_cast<float>(1.0 + 0.01 * k);
}

TEST(AnalysisModels, VimPairWithAScaledInProj) {
  tensor::Generator g1(1), g2(1);
  mamba::VisionMamba pre(mamba::vim_preset("vim-test"), &g1), ft(mamba::vim_preset("vim-test"), &g2);
  scale_columns(ft, "layers.1.mixer.in_proj.weight");
  prodial::AnalysisOptions opts;
  opts.block_count_in = 4;
  opts.block_count_out = 4;
  opts.threads = 2;
  opts.keep_corner = 8;
  const auto res = prodial::analyze_models(pre, ft, opts);
  ASSERT_EQ(res.size(), 4u);  // 2 layers x (in, out)
  EXPECT_EQ(res[0].stats.name, "layers.0.mixer.in_proj.weight");
  EXPECT_EQ(res[1].stats.projector, "out");
  EXPECT_EQ(res[3].stats.layer, 1);
  // unchanged layer 0: T = I for the tall in_proj [64, 16], T = P for the wide out_proj [16, 32]
  EXPECT_EQ(res[0].stats.d_out, 64);
  EXPECT_EQ(res[0].stats.d_in, 16);
  EXPECT_NEAR(res[0].stats.rel_dev_identity, 0.0, 1e-10);
  EXPECT_EQ(res[1].stats.rank, 16);
  EXPECT_NEAR(res[1].stats.rel_dev_projection, 0.0, 1e-10);
  EXPECT_NEAR(res[1].stats.diag_mean, 0.5, 1e-10);
  // layer 1's in_proj was scaled by diag(1 + 0.01 k) (in float32): T ≈ that diagonal
  const prodial::ProjectorAnalysis& a = res[2];
  EXPECT_EQ(a.stats.name, "layers.1.mixer.in_proj.weight");
  ASSERT_EQ(a.T_corner.rows, 8);
  for (int64_t i = 0; i < 8; ++i)
    for (int64_t k = 0; k < 8; ++k) EXPECT_NEAR(a.T_corner(i, k), i == k ? 1.0 + 0.01 * i : 0.0, 1e-6);
  EXPECT_NEAR(a.stats.diag_mean, 1.0 + 0.01 * 7.5, 1e-6);
  EXPECT_GT(a.stats.diag_energy_share, 0.999999);

  // a subset, and the errors
  opts.layers = {1};
  opts.projectors = {"out"};
  const auto sub = prodial::analyze_models(pre, ft, opts);
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].stats.name, "layers.1.mixer.out_proj.weight");
  opts.layers = {5};
  EXPECT_TRUE(pm_test::throws_with([&] { prodial::analyze_models(pre, ft, opts); }, {"layer 5", "not in the model"}));
  opts.layers = {};
  opts.projectors = {"x"};
  EXPECT_TRUE(pm_test::throws_with([&] { prodial::analyze_models(pre, ft, opts); }, {"unknown projector 'x'"}));
  opts.projectors = {"in", "out"};
  opts.block_count_out = 5;
  EXPECT_TRUE(pm_test::throws_with([&] { prodial::analyze_models(pre, ft, opts); }, {"block count 5", "d_in 32", "out_proj"}));
  opts.block_count_out = 4;
  mamba::VimConfig wider = mamba::vim_preset("vim-test");
  wider.embed_dim = 24;
  mamba::VisionMamba other(wider, &g1);
  EXPECT_TRUE(pm_test::throws_with([&] { prodial::analyze_models(pre, other, opts); },
                                   {"layers.0.mixer.in_proj.weight", "[64, 16]", "[96, 24]"}));
  // a NaN in one projector: the error names it
  ft.parameter("layers.0.mixer.out_proj.weight").data().data<float>()[5] = NAN;
  EXPECT_TRUE(pm_test::throws_with([&] { prodial::analyze_models(pre, ft, opts); },
                                   {"layers.0.mixer.out_proj.weight", "non-finite"}));
  mamba::MambaConfig lmc = mamba::mamba_preset("mamba-tiny");
  mamba::MambaLM lm(lmc, &g1);
  EXPECT_TRUE(pm_test::throws_with([&] { prodial::analyze_models(pre, lm, opts); }, {"layers.0.mixer.in_proj.weight", "not in"}));
}

TEST(AnalysisModels, LmProjectorNames) {
  tensor::Generator g(3);
  mamba::MambaLM lm(mamba::mamba_preset("mamba-tiny"), &g);
  const auto w = prodial::projector_weights(lm);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0].name, "backbone.layers.0.mixer.in_proj.weight");
  EXPECT_EQ(w[0].projector, "in");
  EXPECT_EQ(w[3].name, "backbone.layers.1.mixer.out_proj.weight");
  EXPECT_EQ(w[3].layer, 1);
  EXPECT_EQ(prodial::projector_weights(lm, {1}, {"in"}).size(), 1u);
}

}  // namespace
