// heatmap.cpp: heat-map rendering (colour map, a 5x7 digit font for the colour-bar labels) and PNG
// output through stb_image_write, compiled static to this file.
#include "prodial/heatmap.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace prodial {
namespace {

constexpr int64_t kMargin = 8, kBarGap = 12, kBarWidth = 16, kTick = 4, kFontScale = 2;
constexpr int64_t kGlyphW = 5, kGlyphH = 7, kCharAdvance = (kGlyphW + 1) * kFontScale;
constexpr int64_t kLabelChars = 8, kMaxSide = 16384;

// 5x7 glyphs for the labels, one byte per row, bit 4 the leftmost pixel.
struct Glyph {
  char c;
  uint8_t rows[kGlyphH];
};
constexpr Glyph kGlyphs[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1E, 0x01, 0x01, 0x0E, 0x01, 0x01, 0x1E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}}, {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}}, {'e', {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E}},
};

const Glyph* find_glyph(char c) {
  for (const Glyph& g : kGlyphs)
    if (g.c == c) return &g;
  return nullptr;  // drawn as a blank
}

void set_pixel(RgbImage& img, int64_t x, int64_t y, std::array<uint8_t, 3> c) {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  uint8_t* p = img.rgb.data() + 3 * (y * img.width + x);
  p[0] = c[0];
  p[1] = c[1];
  p[2] = c[2];
}

// Text with its top-left corner at (x, y).
void draw_text(RgbImage& img, int64_t x, int64_t y, const std::string& s) {
  for (size_t k = 0; k < s.size(); ++k) {
    const Glyph* g = find_glyph(s[k]);
    if (!g) continue;
    for (int64_t r = 0; r < kGlyphH; ++r)
      for (int64_t c = 0; c < kGlyphW; ++c)
        if (g->rows[r] & (0x10 >> c))
          for (int64_t dy = 0; dy < kFontScale; ++dy)
            for (int64_t dx = 0; dx < kFontScale; ++dx)
              set_pixel(img, x + static_cast<int64_t>(k) * kCharAdvance + c * kFontScale + dx, y + r * kFontScale + dy,
                        {0, 0, 0});
  }
}

std::string label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v > 0 ? "+%.3g" : "%.3g", v);
  return std::string(buf).substr(0, kLabelChars);
}

}  // namespace

std::array<uint8_t, 3> RgbImage::pixel(int64_t x, int64_t y) const {
  if (x < 0 || y < 0 || x >= width || y >= height)
    throw std::out_of_range("RgbImage::pixel: (" + std::to_string(x) + ", " + std::to_string(y) + ") outside " +
                            std::to_string(width) + "x" + std::to_string(height));
  const uint8_t* p = rgb.data() + 3 * (y * width + x);
  return {p[0], p[1], p[2]};
}

std::array<uint8_t, 3> diverging_colour(double t) {
  if (std::isnan(t)) return {128, 128, 128};
  // Five anchors at t = -1, -0.5, 0, 0.5, 1 (ColorBrewer RdBu's ends, white in the middle),
  // interpolated linearly in RGB.
  static const double anchors[5][3] = {{5, 48, 97}, {67, 147, 195}, {255, 255, 255}, {214, 96, 77}, {103, 0, 31}};
  t = std::clamp(t, -1.0, 1.0);
  const double u = (t + 1.0) * 2.0;  // [0, 4]
  const int k = std::min(3, static_cast<int>(std::floor(u)));
  const double f = u - k;
  std::array<uint8_t, 3> c{};
  for (int ch = 0; ch < 3; ++ch)
    c[ch] = static_cast<uint8_t>(std::lround(anchors[k][ch] + f * (anchors[k + 1][ch] - anchors[k][ch])));
  return c;
}

double heatmap_clip(const linalg64::Matrix& m, const HeatmapOptions& opts) {
  if (opts.clip > 0) return opts.clip;
  double mx = 0;
  for (double x : m.data)
    if (std::isfinite(x)) mx = std::max(mx, std::fabs(x));
  return mx > 0 ? mx : 1.0;
}

HeatmapGeometry heatmap_geometry(const linalg64::Matrix& m, const HeatmapOptions& opts) {
  if (m.rows <= 0 || m.cols <= 0)
    throw std::invalid_argument("render_heatmap: empty matrix [" + std::to_string(m.rows) + ", " + std::to_string(m.cols) + "]");
  if (opts.cell_px < 0) throw std::invalid_argument("render_heatmap: cell_px must be >= 0, got " + std::to_string(opts.cell_px));
  HeatmapGeometry g;
  g.cell_px = opts.cell_px > 0 ? opts.cell_px : std::max<int64_t>(1, 512 / std::max(m.rows, m.cols));
  g.map_x = kMargin;
  g.map_y = kMargin;
  return g;
}

RgbImage render_heatmap(const linalg64::Matrix& m, const HeatmapOptions& opts) {
  const HeatmapGeometry g = heatmap_geometry(m, opts);
  const double clip = heatmap_clip(m, opts);
  const int64_t map_w = m.cols * g.cell_px, map_h = m.rows * g.cell_px;
  const int64_t label_h = kGlyphH * kFontScale;
  const int64_t bar_h = std::max<int64_t>(map_h, 4 * label_h);
  RgbImage img;
  img.width = kMargin + map_w + (opts.colour_bar ? kBarGap + kBarWidth + kTick + 4 + kLabelChars * kCharAdvance : 0) + kMargin;
  img.height = kMargin + (opts.colour_bar ? std::max(map_h, bar_h) : map_h) + kMargin + (opts.colour_bar ? label_h / 2 : 0);
  if (img.width > kMaxSide || img.height > kMaxSide)
    throw std::invalid_argument("render_heatmap: image would be " + std::to_string(img.width) + "x" +
                                std::to_string(img.height) + " px (max " + std::to_string(kMaxSide) + "); lower cell_px");
  img.rgb.assign(static_cast<size_t>(3 * img.width * img.height), 255);
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j) {
      const auto c = diverging_colour(m(i, j) / clip);
      for (int64_t dy = 0; dy < g.cell_px; ++dy)
        for (int64_t dx = 0; dx < g.cell_px; ++dx) set_pixel(img, g.map_x + j * g.cell_px + dx, g.map_y + i * g.cell_px + dy, c);
    }
  if (!opts.colour_bar) return img;
  // The bar: +clip at its top row, -clip at its bottom row, a black frame, ticks and labels.
  const int64_t bx = g.map_x + map_w + kBarGap, by = g.map_y;
  for (int64_t y = 0; y < bar_h; ++y) {
    const double t = bar_h > 1 ? 1.0 - 2.0 * static_cast<double>(y) / static_cast<double>(bar_h - 1) : 0.0;
    const auto c = diverging_colour(t);
    for (int64_t x = 0; x < kBarWidth; ++x) set_pixel(img, bx + x, by + y, c);
  }
  for (int64_t x = -1; x <= kBarWidth; ++x) {
    set_pixel(img, bx + x, by - 1, {0, 0, 0});
    set_pixel(img, bx + x, by + bar_h, {0, 0, 0});
  }
  for (int64_t y = -1; y <= bar_h; ++y) {
    set_pixel(img, bx - 1, by + y, {0, 0, 0});
    set_pixel(img, bx + kBarWidth, by + y, {0, 0, 0});
  }
  const int64_t ticks[3] = {0, (bar_h - 1) / 2, bar_h - 1};
  const double values[3] = {clip, 0.0, -clip};
  for (int k = 0; k < 3; ++k) {
    for (int64_t x = 0; x < kTick; ++x) set_pixel(img, bx + kBarWidth + 1 + x, by + ticks[k], {0, 0, 0});
    draw_text(img, bx + kBarWidth + kTick + 4, by + ticks[k] - label_h / 2, k == 1 ? "0" : label(values[k]));
  }
  return img;
}

void write_png(const std::string& path, const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0 || image.rgb.size() != static_cast<size_t>(3 * image.width * image.height))
    throw std::invalid_argument("write_png: " + path + ": image is " + std::to_string(image.width) + "x" +
                                std::to_string(image.height) + " with " + std::to_string(image.rgb.size()) + " bytes");
  std::string bytes;
  auto sink = [](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); };
  if (!stbi_write_png_to_func(sink, &bytes, static_cast<int>(image.width), static_cast<int>(image.height), 3,
                              image.rgb.data(), static_cast<int>(3 * image.width)))
    throw std::runtime_error("write_png: " + path + ": PNG encoding failed");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    if (!f) {
      std::remove(tmp.c_str());
      throw std::runtime_error("write_png: cannot write " + tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("write_png: cannot rename " + tmp + " to " + path);
  }
}

void write_heatmap_png(const std::string& path, const linalg64::Matrix& m, const HeatmapOptions& opts) {
  write_png(path, render_heatmap(m, opts));
}

}  // namespace prodial
