// analysis.cpp: T = W⁺W' per projector, its statistics, and the parallel sweep over two models.
#include "prodial/analysis.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <stdexcept>
#include <thread>

namespace prodial {

using linalg64::Matrix;

namespace {

std::string dims(int64_t r, int64_t c) { return "[" + std::to_string(r) + ", " + std::to_string(c) + "]"; }

// ‖a − b‖_F for same-shaped matrices.
double frobenius_diff(const Matrix& a, const Matrix& b) {
  Matrix d(a.rows, a.cols);
  for (size_t i = 0; i < d.data.size(); ++i) d.data[i] = a.data[i] - b.data[i];
  return linalg64::frobenius_norm(d);
}

}  // namespace

nlohmann::json TransformStats::json() const {
  return {{"name", name},
          {"layer", layer},
          {"projector", projector},
          {"d_out", d_out},
          {"d_in", d_in},
          {"rank", rank},
          {"rcond", rcond},
          {"sigma_max", sigma_max},
          {"sigma_min_kept", sigma_min_kept},
          {"diag_mean", diag_mean},
          {"offdiag_abs_mean", offdiag_abs_mean},
          {"rel_dev_identity", rel_dev_identity},
          {"rel_dev_projection", rel_dev_projection},
          {"block_count", block_count},
          {"block_energy_share", block_energy_share},
          {"diag_energy_share", diag_energy_share},
          {"fit_residual", fit_residual},
          {"rel_weight_change", rel_weight_change}};
}

void fill_matrix_stats(const Matrix& T, int64_t block_count, TransformStats& out) {
  const int64_t n = T.rows;
  if (T.cols != n) throw std::invalid_argument("fill_matrix_stats: T must be square, got " + dims(T.rows, T.cols));
  if (block_count < 1 || n % block_count != 0)
    throw std::invalid_argument("fill_matrix_stats: block count " + std::to_string(block_count) +
                                " does not divide d_in " + std::to_string(n) + (out.name.empty() ? "" : " of " + out.name));
  const int64_t bs = n / block_count;
  double trace = 0, off_abs = 0, energy = 0, block_energy = 0, diag_energy = 0, dev2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double* row = T.row(i);
    for (int64_t j = 0; j < n; ++j) {
      const double x = row[j], x2 = x * x;
      energy += x2;
      if (i == j) {
        trace += x;
        diag_energy += x2;
        dev2 += (x - 1) * (x - 1);
      } else {
        off_abs += std::fabs(x);
        dev2 += x2;
      }
      if (i / bs == j / bs) block_energy += x2;
    }
  }
  out.d_in = n;
  out.block_count = block_count;
  out.diag_mean = n ? trace / static_cast<double>(n) : 0.0;
  out.offdiag_abs_mean = n > 1 ? off_abs / static_cast<double>(n * n - n) : 0.0;
  out.rel_dev_identity = n ? std::sqrt(dev2 / static_cast<double>(n)) : 0.0;  // ‖I‖_F = √n
  out.block_energy_share = energy > 0 ? block_energy / energy : 0.0;
  out.diag_energy_share = energy > 0 ? diag_energy / energy : 0.0;
}

TransformResult analyze_projector(const Matrix& W, const Matrix& W_ft, double rcond, int64_t block_count) {
  if (W.rows != W_ft.rows || W.cols != W_ft.cols)
    throw std::invalid_argument("analyze_projector: W is " + dims(W.rows, W.cols) + " but W' is " +
                                dims(W_ft.rows, W_ft.cols));
  for (const Matrix* m : {&W, &W_ft})
    for (double x : m->data)
      if (!std::isfinite(x))
        throw std::invalid_argument(std::string("analyze_projector: ") + (m == &W ? "W" : "W'") + " holds a non-finite value");
  TransformResult r;
  TransformStats& s = r.stats;
  s.d_out = W.rows;
  s.d_in = W.cols;
  s.rcond = rcond;
  const linalg64::SVD sv = linalg64::svd(W);
  const Matrix Wp = linalg64::pinv(sv, rcond, &s.rank);
  s.sigma_max = sv.S.empty() ? 0.0 : sv.S[0];
  s.sigma_min_kept = s.rank ? sv.S[s.rank - 1] : 0.0;
  r.T = linalg64::matmul(Wp, W_ft);
  fill_matrix_stats(r.T, block_count, s);
  // P = W⁺W = V_r V_r^T, the projection onto W's row space
  const int64_t n = W.cols;
  Matrix vr(n, s.rank), vrt(s.rank, n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < s.rank; ++j) vr(i, j) = vrt(j, i) = sv.V(i, j);
  const Matrix P = linalg64::matmul(vr, vrt);
  const double p_norm = linalg64::frobenius_norm(P);
  const double tp = frobenius_diff(r.T, P);
  s.rel_dev_projection = p_norm > 0 ? tp / p_norm : tp;
  const double ft_norm = linalg64::frobenius_norm(W_ft), w_norm = linalg64::frobenius_norm(W);
  const double fit = frobenius_diff(linalg64::matmul(W, r.T), W_ft);
  s.fit_residual = ft_norm > 0 ? fit / ft_norm : fit;
  const double change = frobenius_diff(W_ft, W);
  s.rel_weight_change = w_norm > 0 ? change / w_norm : change;
  return r;
}

std::vector<ProjectorWeight> projector_weights(const nn::Module& model, const std::vector<int64_t>& layers,
                                               const std::vector<std::string>& projectors) {
  for (const auto& p : projectors)
    if (p != "in" && p != "out")
      throw std::invalid_argument("projector_weights: unknown projector '" + p + "' (expected in or out)");
  static const std::regex pattern(R"((^|.*\.)layers\.(\d+)\.mixer\.(in|out)_proj\.weight$)");
  std::vector<ProjectorWeight> out;
  std::set<int64_t> present;
  for (const auto& [name, var] : model.named_parameters()) {
    std::smatch m;
    if (!std::regex_match(name, m, pattern)) continue;
    ProjectorWeight w{name, std::stoll(m[2].str()), m[3].str(), var.data()};
    present.insert(w.layer);
    if (!layers.empty() && std::find(layers.begin(), layers.end(), w.layer) == layers.end()) continue;
    if (!projectors.empty() && std::find(projectors.begin(), projectors.end(), w.projector) == projectors.end())
      continue;
    out.push_back(std::move(w));
  }
  if (present.empty()) throw std::invalid_argument("projector_weights: the model has no layers.<i>.mixer.in_proj/out_proj weights");
  for (int64_t l : layers)
    if (!present.count(l))
      throw std::invalid_argument("projector_weights: layer " + std::to_string(l) + " is not in the model (layers 0-" +
                                  std::to_string(*present.rbegin()) + ")");
  return out;
}

std::vector<ProjectorPair> match_projectors(const nn::Module& pretrained, const nn::Module& finetuned,
                                            const AnalysisOptions& opts) {
  const std::vector<ProjectorWeight> pre = projector_weights(pretrained, opts.layers, opts.projectors);
  const std::vector<ProjectorWeight> ft = projector_weights(finetuned, opts.layers, opts.projectors);
  std::map<std::string, const ProjectorWeight*> ft_by_name;
  for (const auto& w : ft) ft_by_name[w.name] = &w;
  std::vector<ProjectorPair> pairs;
  for (const auto& w : pre) {
    auto it = ft_by_name.find(w.name);
    if (it == ft_by_name.end())
      throw std::invalid_argument("analyze_models: " + w.name + " is in the pretrained model but not in the fine-tuned one");
    if (it->second->weight.shape() != w.weight.shape())
      throw std::invalid_argument("analyze_models: " + w.name + " is " + tensor::shape_str(w.weight.shape()) +
                                  " in the pretrained model but " + tensor::shape_str(it->second->weight.shape()) +
                                  " in the fine-tuned one");
    pairs.push_back({w, *it->second});
  }
  if (ft.size() != pre.size())
    for (const auto& w : ft)
      if (std::none_of(pre.begin(), pre.end(), [&](const ProjectorWeight& p) { return p.name == w.name; }))
        throw std::invalid_argument("analyze_models: " + w.name + " is in the fine-tuned model but not in the pretrained one");
  if (!(opts.rcond >= 0)) throw std::invalid_argument("analyze_models: rcond must be >= 0, got " + std::to_string(opts.rcond));
  for (const auto& p : pairs) {
    const int64_t rb = p.pretrained.projector == "in" ? opts.block_count_in : opts.block_count_out;
    const int64_t d_in = p.pretrained.weight.size(1);
    if (rb < 1 || d_in % rb != 0)
      throw std::invalid_argument("analyze_models: block count " + std::to_string(rb) + " does not divide d_in " +
                                  std::to_string(d_in) + " of " + p.pretrained.name);
  }
  return pairs;
}

std::vector<ProjectorAnalysis> analyze_models(const nn::Module& pretrained, const nn::Module& finetuned,
                                              const AnalysisOptions& opts) {
  // Everything is checked before spending minutes on SVDs.
  const std::vector<ProjectorPair> pairs = match_projectors(pretrained, finetuned, opts);
  std::vector<ProjectorAnalysis> results(pairs.size());
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(pairs.size());
  std::mutex report_mutex;
  size_t finished = 0;
  auto worker = [&] {
    for (size_t i = next++; i < pairs.size(); i = next++) {
      try {
        const auto t0 = std::chrono::steady_clock::now();
        const ProjectorWeight& w = pairs[i].pretrained;
        const int64_t rb = w.projector == "in" ? opts.block_count_in : opts.block_count_out;
        TransformResult r = analyze_projector(linalg64::from_tensor(w.weight),
                                              linalg64::from_tensor(pairs[i].finetuned.weight), opts.rcond, rb);
        ProjectorAnalysis& a = results[i];
        a.stats = std::move(r.stats);
        a.stats.name = w.name;
        a.stats.layer = w.layer;
        a.stats.projector = w.projector;
        if (opts.keep_corner >= 0) {
          const int64_t c = opts.keep_corner == 0 ? r.T.rows : std::min(opts.keep_corner, r.T.rows);
          a.T_corner = Matrix(c, c);
          for (int64_t row = 0; row < c; ++row) std::copy(r.T.row(row), r.T.row(row) + c, a.T_corner.row(row));
        }
        a.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (opts.on_done) {
          std::lock_guard<std::mutex> lock(report_mutex);
          opts.on_done(a, ++finished, pairs.size());
        }
      } catch (const std::exception& e) {  // name the projector
        errors[i] = std::make_exception_ptr(std::runtime_error(pairs[i].pretrained.name + ": " + e.what()));
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  const int threads = std::max(1, std::min<int>(opts.threads, static_cast<int>(pairs.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return results;
}

}  // namespace prodial
