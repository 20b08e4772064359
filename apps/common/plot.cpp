// plot.cpp: the line-plot rasteriser behind curves.png.
#include "apps/common/plot.h"

#include <stb/stb_easy_font.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "apps/common/run_dir.h"
#include "datasets/image_decode.h"
#include "tensor/tensor.h"

namespace apps {

namespace {

using Color = std::array<uint8_t, 3>;
const Color kBlack = {0, 0, 0}, kGrid = {225, 225, 225}, kGreyText = {60, 60, 60};

struct Canvas {
  int w, h;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes a pixel
  Canvas(int w_, int h_) : w(w_), h(h_), rgb(static_cast<size_t>(w_) * h_ * 3, 255) {}
  void set(int x, int y, const Color& c) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    uint8_t* p = &rgb[(static_cast<size_t>(y) * w + x) * 3];
    p[0] = c[0], p[1] = c[1], p[2] = c[2];
  }
  void fill(int x0, int y0, int x1, int y1, const Color& c) {  // [x0, x1) x [y0, y1)
    for (int y = std::max(0, y0); y < std::min(h, y1); ++y)
      for (int x = std::max(0, x0); x < std::min(w, x1); ++x) set(x, y, c);
  }
  // Bresenham, `thick` pixels wide.
  void line(double fx0, double fy0, double fx1, double fy1, const Color& c, int thick = 1) {
    int x0 = static_cast<int>(std::lround(fx0)), y0 = static_cast<int>(std::lround(fy0));
    const int x1 = static_cast<int>(std::lround(fx1)), y1 = static_cast<int>(std::lround(fy1));
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (int guard = 0; guard < 100000; ++guard) {
      for (int t = 0; t < thick; ++t) {
        set(x0, y0 + t, c);
        set(x0 + t, y0, c);
      }
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
  // stb_easy_font text with its top-left corner at (x, y).
  void text(int x, int y, const std::string& s, const Color& c) {
    static char buf[60000];
    std::string copy = s;
    const int quads = stb_easy_font_print(0, 0, copy.data(), nullptr, buf, sizeof buf);
    for (int q = 0; q < quads; ++q) {
      const float* v = reinterpret_cast<const float*>(buf + q * 4 * 16);  // 4 vertices of x, y, z, rgba
      const float* v2 = reinterpret_cast<const float*>(buf + q * 4 * 16 + 2 * 16);
      fill(x + static_cast<int>(v[0]), y + static_cast<int>(v[1]), x + static_cast<int>(v2[0]),
           y + static_cast<int>(v2[1]), c);
    }
  }
  static int text_width(const std::string& s) {
    std::string copy = s;
    return stb_easy_font_width(copy.data());
  }
};

// About `target` round tick values (1, 2, 5 x 10^k apart) covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int target = 5) {
  const double span = hi - lo;
  if (!(span > 0)) return {lo};
  const double raw = span / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void draw_panel(Canvas& cv, int ox, int pw, int ph, const Panel& p) {
  const int left = 58, right = 14, top = 26, bottom = 34;
  const int x0 = ox + left, x1 = ox + pw - right, y0 = top, y1 = ph - bottom;  // plot area
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const auto& s : p.series)
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (xmax - xmin < 1e-12) xmin -= 0.5, xmax += 0.5;
  if (ymax - ymin < 1e-12) ymin -= 0.5, ymax += 0.5;
  const double pad = (ymax - ymin) * 0.05;
  ymin -= pad, ymax += pad;
  auto px = [&](double x) { return x0 + (x - xmin) / (xmax - xmin) * (x1 - x0); };
  auto py = [&](double y) { return y1 - (y - ymin) / (ymax - ymin) * (y1 - y0); };

  for (double t : ticks(ymin, ymax)) {  // horizontal grid + y labels
    const double y = py(t);
    cv.line(x0, y, x1, y, kGrid);
    const std::string l = tick_label(t);
    cv.text(x0 - 6 - Canvas::text_width(l), static_cast<int>(y) - 4, l, kGreyText);
  }
  for (double t : ticks(xmin, xmax)) {  // vertical grid + x labels
    const double x = px(t);
    cv.line(x, y0, x, y1, kGrid);
    const std::string l = tick_label(t);
    cv.text(static_cast<int>(x) - Canvas::text_width(l) / 2, y1 + 6, l, kGreyText);
  }
  cv.line(x0, y0, x0, y1, kBlack);
  cv.line(x0, y1, x1, y1, kBlack);
  cv.text(x0, 8, p.title, kBlack);
  if (!p.x_label.empty()) cv.text((x0 + x1 - Canvas::text_width(p.x_label)) / 2, ph - 14, p.x_label, kGreyText);

  int legend_y = y0 + 6;
  for (const auto& s : p.series) {
    if (s.points.empty()) continue;
    for (size_t i = 0; i < s.points.size(); ++i) {
      const auto [x, y] = s.points[i];
      if (i > 0) cv.line(px(s.points[i - 1].first), py(s.points[i - 1].second), px(x), py(y), s.color, 2);
      if (s.points.size() < 40)
        cv.fill(static_cast<int>(px(x)) - 2, static_cast<int>(py(y)) - 2, static_cast<int>(px(x)) + 3,
                static_cast<int>(py(y)) + 3, s.color);
    }
    const int lx = x1 - 12 - Canvas::text_width(s.name) - 22;
    cv.fill(lx, legend_y + 3, lx + 16, legend_y + 5, s.color);
    cv.text(lx + 20, legend_y, s.name, kBlack);
    legend_y += 14;
  }
}

}  // namespace

void write_line_plot(const std::string& path, const std::vector<Panel>& panels, int panel_w, int height) {
  const int n = std::max<int>(1, static_cast<int>(panels.size()));
  Canvas cv(panel_w * n, height);
  for (int i = 0; i < static_cast<int>(panels.size()); ++i) draw_panel(cv, i * panel_w, panel_w, height, panels[i]);
  tensor::Tensor img = tensor::Tensor::empty({3, height, cv.w}, tensor::DType::UInt8);
  uint8_t* d = img.data<uint8_t>();
  const size_t plane = static_cast<size_t>(height) * cv.w;
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) d[c * plane + i] = cv.rgb[i * 3 + c];
  write_file_atomic(path, datasets::encode_png(img));
}

void write_curves(const std::string& path, const std::vector<nlohmann::json>& metrics, const std::string& metric) {
  Series train{"train loss", {}, {31, 119, 180}}, eval{"eval loss", {}, {214, 39, 40}}, m{metric, {}, {44, 160, 44}};
  for (const auto& j : metrics) {
    if (!j.contains("step")) continue;
    const double s = j["step"].get<double>();
    if (j.contains("loss") && j["loss"].is_number()) train.points.emplace_back(s, j["loss"].get<double>());
    if (j.contains("eval_loss") && j["eval_loss"].is_number())
      eval.points.emplace_back(s, j["eval_loss"].get<double>());
    if (j.contains(metric) && j[metric].is_number()) m.points.emplace_back(s, j[metric].get<double>());
  }
  std::vector<Panel> panels = {{"loss", "step", {train, eval}}};
  if (!m.points.empty()) panels.push_back({metric, "step", {m}});
  write_line_plot(path, panels);
}

}  // namespace apps
