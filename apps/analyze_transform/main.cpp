// main.cpp: `analyze_transform`, the paper's study of T (prodial-method.md §3) between a pretrained and
// a fine-tuned model directory (any layout mamba::load_model reads: HF / mamba_ssm LMs or Vim). For each
// selected projector it computes T = W⁺W' in float64 on the CPU and reports the diagonal mean, the
// mean |off-diagonal|, ‖T − I‖_F/‖I‖_F, ‖T − W⁺W‖_F/‖W⁺W‖_F, the energy inside r_b diagonal blocks,
// and the rank used; it writes heat maps of T's top-left corner, stats.json, stats.csv and config.json
// into the run directory. stdout: a table, then one JSON object as the last line.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apps/common/cli.h"
#include "apps/common/program.h"
#include "apps/common/run_dir.h"
#include "mamba/api.h"
#include "prodial/analysis.h"
#include "prodial/heatmap.h"

namespace {

constexpr const char* kProgram = "analyze_transform";

struct Flags {
  std::string pretrained, finetuned, layers, projectors = "in,out", block_count = "8", heatmap_layers, out;
  double rcond = 1e-6, clip = 1.0;
  int64_t heatmap_size = 128;
  int threads = 0;
  bool no_heatmaps = false;
};

std::vector<int64_t> parse_int_list(const std::string& s, const std::string& flag) {
  std::vector<int64_t> out;
  for (const std::string& item : apps::split_list(s)) {
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || v < 0)
      throw std::invalid_argument(flag + ": expected comma-separated non-negative integers, got '" + s + "'");
    out.push_back(v);
  }
  return out;
}

// A model directory's module and a word for its family ("vim" or "lm").
struct Loaded {
  mamba::LoadedModel model;
  std::string family;
  const nn::Module& module() const {
    return model.vim ? static_cast<const nn::Module&>(*model.vim) : static_cast<const nn::Module&>(*model.lm);
  }
};

Loaded load(const std::string& dir, const std::string& flag) {
  if (dir.empty()) throw std::invalid_argument(flag + " is required");
  if (!std::filesystem::is_directory(dir)) throw std::invalid_argument(flag + " " + dir + ": not a directory");
  Loaded l;
  l.model = mamba::load_model(dir);
  l.family = l.model.vim ? "vim" : "lm";
  return l;
}

std::string fmt(double v, const char* spec = "%.4f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

std::string table(const std::vector<prodial::ProjectorAnalysis>& res) {
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof line, "%5s %4s %12s %5s %9s %9s %9s %9s %9s %9s %9s %9s %7s\n", "layer", "proj", "d_out x d_in",
                "rank", "diag_mean", "|offdiag|", "dev_I", "dev_P", "blk_E", "diag_E", "fit_res", "dW/W", "secs");
  os << line;
  for (const auto& a : res) {
    const prodial::TransformStats& s = a.stats;
    const std::string shape = std::to_string(s.d_out) + "x" + std::to_string(s.d_in);
    std::snprintf(line, sizeof line, "%5lld %4s %12s %5lld %9.4f %9.2e %9.4f %9.4f %9.4f %9.4f %9.2e %9.2e %7.2f\n",
                  static_cast<long long>(s.layer), s.projector.c_str(), shape.c_str(), static_cast<long long>(s.rank),
                  s.diag_mean, s.offdiag_abs_mean, s.rel_dev_identity, s.rel_dev_projection, s.block_energy_share,
                  s.diag_energy_share, s.fit_residual, s.rel_weight_change, a.seconds);
    os << line;
  }
  return os.str();
}

std::string csv(const std::vector<prodial::ProjectorAnalysis>& res) {
  static const char* keys[] = {"name", "layer", "projector", "d_out", "d_in", "rank", "rcond", "sigma_max",
                               "sigma_min_kept", "diag_mean", "offdiag_abs_mean", "rel_dev_identity",
                               "rel_dev_projection", "block_count", "block_energy_share", "diag_energy_share",
                               "fit_residual", "rel_weight_change"};
  std::ostringstream os;
  for (size_t k = 0; k < std::size(keys); ++k) os << (k ? "," : "") << keys[k];
  os << ",seconds\n";
  for (const auto& a : res) {
    const nlohmann::json j = a.stats.json();
    for (size_t k = 0; k < std::size(keys); ++k) {
      const nlohmann::json& v = j.at(keys[k]);
      os << (k ? "," : "") << (v.is_string() ? v.get<std::string>() : v.dump());
    }
    os << "," << a.seconds << "\n";
  }
  return os.str();
}

// Means over the analysed layers, per projector kind.
nlohmann::json summary(const std::vector<prodial::ProjectorAnalysis>& res) {
  nlohmann::json out = nlohmann::json::object();
  for (const char* kind : {"in", "out"}) {
    int n = 0;
    double diag = 0, off = 0, dev_i = 0, dev_p = 0, blk = 0;
    for (const auto& a : res) {
      if (a.stats.projector != kind) continue;
      ++n;
      diag += a.stats.diag_mean;
      off += a.stats.offdiag_abs_mean;
      dev_i += a.stats.rel_dev_identity;
      dev_p += a.stats.rel_dev_projection;
      blk += a.stats.block_energy_share;
    }
    if (!n) continue;
    out[kind] = {{"projectors", n},
                 {"diag_mean", diag / n},
                 {"offdiag_abs_mean", off / n},
                 {"rel_dev_identity", dev_i / n},
                 {"rel_dev_projection", dev_p / n},
                 {"block_energy_share", blk / n}};
  }
  return out;
}

int run(const CLI::App& app, Flags& f) {
  const auto t0 = std::chrono::steady_clock::now();
  prodial::AnalysisOptions opts;
  opts.layers = parse_int_list(f.layers, "--layers");
  opts.projectors = apps::split_list(f.projectors);
  if (opts.projectors.empty()) throw std::invalid_argument("--projectors: expected in, out or in,out, got '" + f.projectors + "'");
  for (const auto& p : opts.projectors)
    if (p != "in" && p != "out") throw std::invalid_argument("--projectors: unknown projector '" + p + "' (expected in or out)");
  const std::vector<int64_t> rb = parse_int_list(f.block_count, "--block-count");
  if (rb.empty() || rb.size() > 2 || rb[0] < 1 || rb.back() < 1)
    throw std::invalid_argument("--block-count: expected N or IN,OUT (positive), got '" + f.block_count + "'");
  opts.block_count_in = rb[0];
  opts.block_count_out = rb.back();
  if (!(f.rcond >= 0 && f.rcond < 1)) throw std::invalid_argument("--rcond must be in [0, 1), got " + fmt(f.rcond, "%g"));
  if (f.heatmap_size < 0) throw std::invalid_argument("--heatmap-size must be >= 0, got " + std::to_string(f.heatmap_size));
  if (!(f.clip >= 0)) throw std::invalid_argument("--clip must be >= 0, got " + fmt(f.clip, "%g"));
  opts.rcond = f.rcond;
  opts.threads = f.threads > 0 ? f.threads : std::max(1u, std::thread::hardware_concurrency());
  f.threads = opts.threads;
  opts.keep_corner = f.no_heatmaps ? -1 : f.heatmap_size;

  const Loaded pre = load(f.pretrained, "--pretrained"), ft = load(f.finetuned, "--finetuned");
  if (pre.family != ft.family)
    throw std::invalid_argument("--pretrained " + f.pretrained + " is a" + (pre.family == "vim" ? " Vim model" : "n LM") +
                                " but --finetuned " + f.finetuned + " is a" + (ft.family == "vim" ? " Vim model" : "n LM"));
  const auto pairs = prodial::match_projectors(pre.module(), ft.module(), opts);  // checks before writing anything
  std::set<int64_t> heat_layers;
  if (!f.no_heatmaps) {
    if (f.heatmap_layers.empty())
      for (const auto& p : pairs) heat_layers.insert(p.pretrained.layer);
    for (int64_t l : parse_int_list(f.heatmap_layers, "--heatmap-layers")) {
      if (std::none_of(pairs.begin(), pairs.end(), [&](const prodial::ProjectorPair& p) { return p.pretrained.layer == l; }))
        throw std::invalid_argument("--heatmap-layers: layer " + std::to_string(l) + " is not among the analysed layers");
      heat_layers.insert(l);
    }
  }
  if (f.out.empty()) {
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::gmtime(&now));
    f.out = std::string("runs/") + kProgram + "-" + stamp;
  }
  apps::RunDir run_dir(f.out, false);
  nlohmann::json config = {{"program", kProgram}, {"flags", apps::flags_json(app)}, {"given", apps::given_flags(app)}};
  config["flags"]["out"] = f.out;
  config["flags"]["threads"] = f.threads;
  config["pretrained_layout"] = mamba::layout_name(pre.model.layout);
  config["finetuned_layout"] = mamba::layout_name(ft.model.layout);
  run_dir.write_config(config);

  std::fprintf(stderr, "%s: %zu projectors of %s (%s) vs %s (%s), %d threads, float64 on the CPU\n", kProgram,
               pairs.size(), f.pretrained.c_str(), mamba::layout_name(pre.model.layout), f.finetuned.c_str(),
               mamba::layout_name(ft.model.layout), opts.threads);
  opts.on_done = [&](const prodial::ProjectorAnalysis& a, size_t done, size_t total) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "[%zu/%zu] %s: rank %lld, diag_mean %.4f, dev_I %.4f (%.2fs; %.0fs elapsed, ETA %.0fs)\n", done,
                 total, a.stats.name.c_str(), static_cast<long long>(a.stats.rank), a.stats.diag_mean,
                 a.stats.rel_dev_identity, a.seconds, elapsed, elapsed / done * (total - done));
  };
  const std::vector<prodial::ProjectorAnalysis> res = prodial::analyze_models(pre.module(), ft.module(), opts);

  nlohmann::json heatmaps = nlohmann::json::array();
  if (!f.no_heatmaps) {
    std::filesystem::create_directories(run_dir.file("heatmaps"));
    prodial::HeatmapOptions hopts;
    hopts.clip = f.clip;
    for (const auto& a : res) {
      if (!heat_layers.count(a.stats.layer)) continue;
      const std::string rel = "heatmaps/T_layer" + std::to_string(a.stats.layer) + "_" + a.stats.projector + "_proj.png";
      prodial::write_heatmap_png(run_dir.file(rel), a.T_corner, hopts);
      heatmaps.push_back({{"file", rel}, {"name", a.stats.name}, {"size", a.T_corner.rows},
                          {"clip", prodial::heatmap_clip(a.T_corner, hopts)}});
    }
  }

  // Why T cannot be near I for some projectors (prodial-method.md §1.3 item 3).
  std::vector<std::string> notes;
  const prodial::TransformStats* wide = nullptr;
  int deficient = 0;
  for (const auto& a : res) {
    if (a.stats.d_out < a.stats.d_in && !wide) wide = &a.stats;
    if (a.stats.d_out >= a.stats.d_in && a.stats.rank < a.stats.d_in) ++deficient;
  }
  if (wide)
    notes.push_back(wide->projector + "_proj is wide (d_out " + std::to_string(wide->d_out) + " < d_in " +
                    std::to_string(wide->d_in) + "): W⁺W is a rank-" + std::to_string(wide->rank) +
                    " projection P, not I, so T cannot approach I there; read dev_P = ‖T − P‖_F / ‖P‖_F");
  if (deficient)
    notes.push_back(std::to_string(deficient) + " tall projector(s) have rank(W) < d_in at --rcond " + fmt(f.rcond, "%g") +
                    ": T is then only determined on W's row space; read dev_P");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json result = {{"pretrained", f.pretrained},
                           {"finetuned", f.finetuned},
                           {"rcond", f.rcond},
                           {"block_count_in", opts.block_count_in},
                           {"block_count_out", opts.block_count_out},
                           {"summary", summary(res)},
                           {"projectors", nlohmann::json::array()},
                           {"heatmaps", heatmaps},
                           {"notes", notes},
                           {"out", f.out},
                           {"seconds", seconds}};
  for (const auto& a : res) {
    nlohmann::json j = a.stats.json();
    j["seconds"] = a.seconds;
    result["projectors"].push_back(j);
  }
  apps::write_file_atomic(run_dir.file("stats.json"), result.dump(2) + "\n");
  apps::write_file_atomic(run_dir.file("stats.csv"), csv(res));

  std::printf("%s", table(res).c_str());
  std::printf("dev_I = ||T - I||_F / ||I||_F; dev_P = ||T - W+W||_F / ||W+W||_F; blk_E = energy share inside the r_b "
              "diagonal blocks (r_b in %lld, out %lld); diag_E = energy share on the diagonal; fit_res = ||W T - W'||_F / "
              "||W'||_F; dW/W = ||W' - W||_F / ||W||_F\n",
              static_cast<long long>(opts.block_count_in), static_cast<long long>(opts.block_count_out));
  for (const auto& n : notes) std::printf("note: %s\n", n.c_str());
  std::printf("wrote %s/{config.json, stats.json, stats.csv%s}\n", f.out.c_str(), heatmaps.empty() ? "" : ", heatmaps/*.png");
  apps::print_result(result);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"analyze_transform: the study of T = W⁺W' (ProDiaL paper §3) for each in_proj / out_proj between a "
               "pretrained and a fine-tuned model directory (HF / mamba_ssm LM or Vim), in float64 on the CPU.\n"
               "For a wide projector (out_proj: d_out < d_in) W⁺W is a projection, not I; see dev_P.",
               kProgram};
  apps::capture_defaults(app);
  app.add_option("--pretrained", f.pretrained, "pretrained model directory (W)")->required();
  app.add_option("--finetuned", f.finetuned, "fine-tuned model directory (W'), same architecture")->required();
  app.add_option("--layers", f.layers, "comma-separated layer indices (default: every layer)");
  app.add_option("--projectors", f.projectors, "in, out or in,out");
  app.add_option("--block-count", f.block_count, "r_b for the block-energy share: N, or IN,OUT for in_proj / out_proj; must divide d_in");
  app.add_option("--rcond", f.rcond,
                 "pseudo-inverse cut-off: singular values <= rcond * sigma_max count as 0 (float32 weights carry ~1e-7 noise)");
  app.add_option("--heatmap-size", f.heatmap_size, "heat maps show T's top-left N x N corner (0: the whole T)");
  app.add_option("--heatmap-layers", f.heatmap_layers, "layers to draw (default: every analysed layer)");
  app.add_option("--clip", f.clip, "heat-map colour range [-clip, clip] (0: max |T| of each map)");
  app.add_flag("--no-heatmaps", f.no_heatmaps, "write no heat maps");
  app.add_option("--threads", f.threads, "projectors analysed in parallel (0: every core)")->check(CLI::NonNegativeNumber);
  app.add_option("--out", f.out, "run directory (default: runs/analyze_transform-<date-time>); must not hold a run");
  return apps::run_program(app, argc, argv, [&] { return run(app, f); });
}
