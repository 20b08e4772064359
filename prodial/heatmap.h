// heatmap.h: a matrix as a PNG heat map (stb_image_write): a diverging blue–white–red colour map
// centred so that 0 is white, values clipped to a symmetric range [-clip, clip], and a colour bar
// labelled with -clip, 0 and +clip. Used for the T analysis (prodial/analysis.h).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "prodial/linalg64.h"

namespace prodial {

struct HeatmapOptions {
  double clip = 1.0;       // colour range [-clip, clip]; <= 0 picks max |value| (1 for an all-zero matrix)
  int64_t cell_px = 0;     // pixels per matrix entry; 0: about 512 px for the longer side (at least 1)
  bool colour_bar = true;  // the bar and its labels to the right of the map
};

// An RGB image, rows top to bottom, 3 bytes per pixel.
struct RgbImage {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;
  std::array<uint8_t, 3> pixel(int64_t x, int64_t y) const;
};

// The colour of t in [-1, 1] (clamped; NaN is grey): -1 dark blue, 0 white, +1 dark red.
std::array<uint8_t, 3> diverging_colour(double t);

// The clip actually used for `m` under `opts` (resolves clip <= 0).
double heatmap_clip(const linalg64::Matrix& m, const HeatmapOptions& opts);

// Layout: an 8 px margin, then the map (entry (i, j) is the cell_px square at row i, column j), then
// the colour bar (+clip at the top, -clip at the bottom) with its labels. Throws std::invalid_argument
// for an empty matrix or an image over 16384 px a side.
RgbImage render_heatmap(const linalg64::Matrix& m, const HeatmapOptions& opts = {});

// Where render_heatmap puts the map: the top-left pixel of entry (0, 0) and the cell size.
struct HeatmapGeometry {
  int64_t map_x = 0, map_y = 0, cell_px = 1;
};
HeatmapGeometry heatmap_geometry(const linalg64::Matrix& m, const HeatmapOptions& opts = {});

// Writes the image as PNG at `path` atomically (temp file, then rename); std::runtime_error naming
// the path on failure.
void write_png(const std::string& path, const RgbImage& image);
void write_heatmap_png(const std::string& path, const linalg64::Matrix& m, const HeatmapOptions& opts = {});

}  // namespace prodial
