// transforms.h: image transforms on [C, H, W] tensors (uint8, float32 or float64), composable and
// seeded: a Transform takes the image and the example's Rng (datasets/rng.h), so a random crop or
// flip depends only on (seed, epoch, example index). Geometry keeps the dtype; to_float turns
// uint8 into float32 in [0, 1]; normalize needs float input.
//
//   auto train = compose({random_resized_crop(224, 224), horizontal_flip(), to_float(),
//                         normalize({0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f})});
#pragma once
#include <functional>
#include <vector>

#include "datasets/rng.h"
#include "tensor/tensor.h"

namespace datasets {

using Transform = std::function<tensor::Tensor(const tensor::Tensor& image, Rng& rng)>;

// Applies the transforms left to right.
Transform compose(std::vector<Transform> steps);
// uint8 -> float32 divided by 255; float images pass through unchanged.
Transform to_float();
// (x - mean[c]) / std[c] per channel; one value applies to every channel.
Transform normalize(std::vector<float> mean, std::vector<float> std);
// Bilinear resize to h x w with half-pixel centres and no antialiasing (torch.nn.functional.
// interpolate(mode="bilinear", align_corners=False)). uint8 results are rounded.
Transform resize(int64_t h, int64_t w);
// Resize so the shorter side is `size`, keeping the aspect ratio (torchvision Resize(int)).
Transform resize_shorter(int64_t size);
// The central h x w window (zero-padded when the image is smaller), as torchvision CenterCrop.
Transform center_crop(int64_t h, int64_t w);
// torchvision RandomResizedCrop: a window with area in scale * H * W and aspect ratio (w/h) log-
// uniform in `ratio` (10 tries, then a centred fallback), resized to h x w.
Transform random_resized_crop(int64_t h, int64_t w, std::pair<double, double> scale = {0.08, 1.0},
                              std::pair<double, double> ratio = {3.0 / 4.0, 4.0 / 3.0});
// Pads every side by `padding` with `fill`, then takes a uniformly placed h x w window.
Transform random_crop(int64_t h, int64_t w, int64_t padding = 0, double fill = 0);
// Mirrors left-right with probability p.
Transform horizontal_flip(double p = 0.5);
// The evaluation transform of a Vim model: to float in [0, 1], bilinear resize to
// img_size x img_size only when the image is not already that size, then normalize with the
// model's image_mean / image_std.
Transform vim_eval_transform(int64_t img_size, std::vector<float> image_mean, std::vector<float> image_std);

// The deterministic building blocks (what the transforms above call).
tensor::Tensor resize_bilinear(const tensor::Tensor& image, int64_t h, int64_t w);
// Window [top, top + h) x [left, left + w); parts outside the image are `fill`.
tensor::Tensor crop(const tensor::Tensor& image, int64_t top, int64_t left, int64_t h, int64_t w, double fill = 0);
tensor::Tensor flip_horizontal(const tensor::Tensor& image);

}  // namespace datasets
