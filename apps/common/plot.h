// plot.h: line plots as PNG without a plotting library: a small rasteriser (axes, ticks, grid,
// polylines) with tick labels, titles and legends drawn by stb_easy_font, encoded by stb_image_write
// (datasets::encode_png), and written atomically. curves.png is two panels: the training and eval
// loss against step, and the eval metric against step.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace apps {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in order
  std::array<uint8_t, 3> color = {31, 119, 180};
};

struct Panel {
  std::string title, x_label;
  std::vector<Series> series;
};

// The panels side by side, each panel_w x height pixels. Empty series are skipped; a panel with no
// points draws its axes only.
void write_line_plot(const std::string& path, const std::vector<Panel>& panels, int panel_w = 480, int height = 360);

// curves.png from metrics.jsonl lines: "loss" (training) and "eval_loss" against "step" in one panel,
// `metric` (e.g. "eval_acc") against "step" in the other (left out when no line has it).
void write_curves(const std::string& path, const std::vector<nlohmann::json>& metrics,
                  const std::string& metric = "eval_acc");

}  // namespace apps
