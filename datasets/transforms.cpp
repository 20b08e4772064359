// transforms.cpp: the image transforms, as plain loops over contiguous [C, H, W] planes.
#include "datasets/transforms.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace datasets {
namespace {

using tensor::DType;
using tensor::Tensor;

// Throws unless `image` is a [C, H, W] tensor of a supported dtype; returns it contiguous on the CPU.
Tensor checked(const char* op, const Tensor& image) {
  if (!image.defined()) throw std::invalid_argument(std::string(op) + ": undefined image");
  if (image.dim() != 3)
    throw std::invalid_argument(std::string(op) + ": expected an image [C, H, W], got shape " + tensor::shape_str(image.shape()));
  if (!image.device().is_cpu()) throw std::invalid_argument(std::string(op) + ": expected a CPU image, got " + image.device().str());
  const DType dt = image.dtype();
  if (dt != DType::UInt8 && dt != DType::Float32 && dt != DType::Float64)
    throw std::invalid_argument(std::string(op) + ": expected a uint8, float32 or float64 image, got " + tensor::dtype_name(dt));
  return image.contiguous();
}

template <typename F> void dispatch_image(DType dt, F&& f) {
  switch (dt) {
    case DType::UInt8: f(tensor::type_tag<uint8_t>{}); break;
    case DType::Float32: f(tensor::type_tag<float>{}); break;
    default: f(tensor::type_tag<double>{}); break;
  }
}

template <typename T> T from_double(double v) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return static_cast<uint8_t>(std::lround(std::min(255.0, std::max(0.0, v))));
  } else {
    return static_cast<T>(v);
  }
}

// Source coordinate of output index i for a resize from n_in to n_out (half-pixel centres).
struct Tap {
  int64_t i0, i1;
  double frac;
};
std::vector<Tap> taps(int64_t n_in, int64_t n_out) {
  std::vector<Tap> t(n_out);
  const double scale = static_cast<double>(n_in) / static_cast<double>(n_out);
  for (int64_t i = 0; i < n_out; ++i) {
    double s = (static_cast<double>(i) + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    int64_t i0 = static_cast<int64_t>(s);
    if (i0 >= n_in - 1) {
      t[i] = {n_in - 1, n_in - 1, 0.0};
    } else {
      t[i] = {i0, i0 + 1, s - static_cast<double>(i0)};
    }
  }
  return t;
}

void check_size(const char* op, int64_t h, int64_t w) {
  if (h <= 0 || w <= 0)
    throw std::invalid_argument(std::string(op) + ": output size must be positive, got " + std::to_string(h) + "x" + std::to_string(w));
}

}  // namespace

Tensor resize_bilinear(const Tensor& image, int64_t h, int64_t w) {
  check_size("resize", h, w);
  const Tensor src = checked("resize", image);
  const int64_t C = src.size(0), H = src.size(1), W = src.size(2);
  if (H == h && W == w) return src.clone();
  if (H == 0 || W == 0) throw std::invalid_argument("resize: empty image " + tensor::shape_str(src.shape()));
  Tensor out = Tensor::empty({C, h, w}, src.dtype());
  const auto ty = taps(H, h), tx = taps(W, w);
  dispatch_image(src.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* s = src.data<T>();
    T* o = out.data<T>();
    for (int64_t c = 0; c < C; ++c) {
      const T* plane = s + c * H * W;
      for (int64_t y = 0; y < h; ++y) {
        const T* r0 = plane + ty[y].i0 * W;
        const T* r1 = plane + ty[y].i1 * W;
        const double fy = ty[y].frac;
        for (int64_t x = 0; x < w; ++x) {
          const double fx = tx[x].frac;
          const double top = (1 - fx) * static_cast<double>(r0[tx[x].i0]) + fx * static_cast<double>(r0[tx[x].i1]);
          const double bot = (1 - fx) * static_cast<double>(r1[tx[x].i0]) + fx * static_cast<double>(r1[tx[x].i1]);
          o[(c * h + y) * w + x] = from_double<T>((1 - fy) * top + fy * bot);
        }
      }
    }
  });
  return out;
}

Tensor crop(const Tensor& image, int64_t top, int64_t left, int64_t h, int64_t w, double fill) {
  check_size("crop", h, w);
  const Tensor src = checked("crop", image);
  const int64_t C = src.size(0), H = src.size(1), W = src.size(2);
  Tensor out = Tensor::empty({C, h, w}, src.dtype());
  dispatch_image(src.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* s = src.data<T>();
    T* o = out.data<T>();
    const T f = from_double<T>(fill);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < h; ++y) {
        const int64_t sy = top + y;
        T* row = o + (c * h + y) * w;
        for (int64_t x = 0; x < w; ++x) {
          const int64_t sx = left + x;
          row[x] = (sy >= 0 && sy < H && sx >= 0 && sx < W) ? s[(c * H + sy) * W + sx] : f;
        }
      }
  });
  return out;
}

Tensor flip_horizontal(const Tensor& image) {
  const Tensor src = checked("horizontal_flip", image);
  const int64_t C = src.size(0), H = src.size(1), W = src.size(2);
  Tensor out = Tensor::empty(src.shape(), src.dtype());
  const size_t es = src.element_size();
  const auto* s = static_cast<const unsigned char*>(src.raw_data());
  auto* o = static_cast<unsigned char*>(out.raw_data());
  for (int64_t r = 0; r < C * H; ++r)
    for (int64_t x = 0; x < W; ++x) std::memcpy(o + (r * W + x) * es, s + (r * W + (W - 1 - x)) * es, es);
  return out;
}

Transform compose(std::vector<Transform> steps) {
  for (size_t i = 0; i < steps.size(); ++i)
    if (!steps[i]) throw std::invalid_argument("compose: step " + std::to_string(i) + " is empty");
  return [steps = std::move(steps)](const Tensor& image, Rng& rng) {
    Tensor t = image;
    for (const auto& s : steps) t = s(t, rng);
    return t;
  };
}

Transform to_float() {
  return [](const Tensor& image, Rng&) {
    const Tensor src = checked("to_float", image);
    if (src.dtype() != DType::UInt8) return src;
    Tensor out = Tensor::empty(src.shape(), DType::Float32);
    const uint8_t* s = src.data<uint8_t>();
    float* o = out.data<float>();
    for (int64_t i = 0, n = src.numel(); i < n; ++i) o[i] = static_cast<float>(s[i]) / 255.0f;
    return out;
  };
}

Transform normalize(std::vector<float> mean, std::vector<float> std) {
  if (mean.empty() || mean.size() != std.size())
    throw std::invalid_argument("normalize: need as many means as stds (at least one), got " + std::to_string(mean.size()) + " and " +
                                std::to_string(std.size()));
  for (float s : std)
    if (!(s != 0.0f)) throw std::invalid_argument("normalize: std must be non-zero");
  return [mean = std::move(mean), std = std::move(std)](const Tensor& image, Rng&) {
    const Tensor src = checked("normalize", image);
    if (src.dtype() == DType::UInt8) throw std::invalid_argument("normalize: expected a float image (apply to_float first), got uint8");
    const int64_t C = src.size(0), hw = src.size(1) * src.size(2);
    if (mean.size() != 1 && static_cast<int64_t>(mean.size()) != C)
      throw std::invalid_argument("normalize: " + std::to_string(mean.size()) + " means/stds for a " + std::to_string(C) +
                                  "-channel image " + tensor::shape_str(src.shape()));
    Tensor out = Tensor::empty(src.shape(), src.dtype());
    dispatch_image(src.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (!std::is_same_v<T, uint8_t>) {
        const T* s = src.data<T>();
        T* o = out.data<T>();
        for (int64_t c = 0; c < C; ++c) {
          const T m = mean[mean.size() == 1 ? 0 : c], inv = T(1) / T(std[std.size() == 1 ? 0 : c]);
          for (int64_t k = 0; k < hw; ++k) o[c * hw + k] = (s[c * hw + k] - m) * inv;
        }
      }
    });
    return out;
  };
}

Transform resize(int64_t h, int64_t w) {
  check_size("resize", h, w);
  return [h, w](const Tensor& image, Rng&) { return resize_bilinear(image, h, w); };
}

Transform resize_shorter(int64_t size) {
  check_size("resize_shorter", size, size);
  return [size](const Tensor& image, Rng&) {
    const Tensor src = checked("resize_shorter", image);
    const int64_t H = src.size(1), W = src.size(2);
    if (H <= W) return resize_bilinear(src, size, std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(size) * W / H)));
    return resize_bilinear(src, std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(size) * H / W)), size);
  };
}

Transform center_crop(int64_t h, int64_t w) {
  check_size("center_crop", h, w);
  return [h, w](const Tensor& image, Rng&) {
    const Tensor src = checked("center_crop", image);
    const int64_t H = src.size(1), W = src.size(2);
    // torchvision: offset round((H - h) / 2) (half to even) when cropping, -(h - H) // 2 when padding.
    const int64_t top = H >= h ? static_cast<int64_t>(std::nearbyint((H - h) / 2.0)) : -((h - H) / 2);
    const int64_t left = W >= w ? static_cast<int64_t>(std::nearbyint((W - w) / 2.0)) : -((w - W) / 2);
    return crop(src, top, left, h, w);
  };
}

Transform random_resized_crop(int64_t h, int64_t w, std::pair<double, double> scale, std::pair<double, double> ratio) {
  check_size("random_resized_crop", h, w);
  if (!(scale.first > 0 && scale.first <= scale.second && ratio.first > 0 && ratio.first <= ratio.second))
    throw std::invalid_argument("random_resized_crop: need 0 < scale.first <= scale.second and 0 < ratio.first <= ratio.second");
  return [=](const Tensor& image, Rng& rng) {
    const Tensor src = checked("random_resized_crop", image);
    const int64_t H = src.size(1), W = src.size(2);
    const double area = static_cast<double>(H) * static_cast<double>(W);
    const double lr0 = std::log(ratio.first), lr1 = std::log(ratio.second);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target = area * rng.uniform(scale.first, scale.second);
      const double aspect = std::exp(rng.uniform(lr0, lr1));
      const int64_t cw = std::lround(std::sqrt(target * aspect)), ch = std::lround(std::sqrt(target / aspect));
      if (cw > 0 && cw <= W && ch > 0 && ch <= H) {
        const int64_t top = rng.randint(0, H - ch + 1), left = rng.randint(0, W - cw + 1);
        return resize_bilinear(crop(src, top, left, ch, cw), h, w);
      }
    }
    // Fallback: the whole image, trimmed to the nearest allowed aspect ratio, centred.
    int64_t cw = W, ch = H;
    const double in_ratio = static_cast<double>(W) / static_cast<double>(H);
    if (in_ratio < ratio.first) {
      ch = std::lround(cw / ratio.first);
    } else if (in_ratio > ratio.second) {
      cw = std::lround(ch * ratio.second);
    }
    return resize_bilinear(crop(src, (H - ch) / 2, (W - cw) / 2, ch, cw), h, w);
  };
}

Transform random_crop(int64_t h, int64_t w, int64_t padding, double fill) {
  check_size("random_crop", h, w);
  if (padding < 0) throw std::invalid_argument("random_crop: padding must be >= 0, got " + std::to_string(padding));
  return [=](const Tensor& image, Rng& rng) {
    const Tensor src = checked("random_crop", image);
    const int64_t H = src.size(1) + 2 * padding, W = src.size(2) + 2 * padding;
    if (H < h || W < w)
      throw std::invalid_argument("random_crop: crop " + std::to_string(h) + "x" + std::to_string(w) + " is larger than the padded image " +
                                  std::to_string(H) + "x" + std::to_string(W));
    const int64_t top = rng.randint(0, H - h + 1), left = rng.randint(0, W - w + 1);
    return crop(src, top - padding, left - padding, h, w, fill);
  };
}

Transform horizontal_flip(double p) {
  if (!(p >= 0 && p <= 1)) throw std::invalid_argument("horizontal_flip: p must be in [0, 1], got " + std::to_string(p));
  return [p](const Tensor& image, Rng& rng) { return rng.bernoulli(p) ? flip_horizontal(image) : image; };
}

Transform vim_eval_transform(int64_t img_size, std::vector<float> image_mean, std::vector<float> image_std) {
  check_size("vim_eval_transform", img_size, img_size);
  Transform norm = normalize(std::move(image_mean), std::move(image_std));
  Transform as_float = to_float();
  return [=](const Tensor& image, Rng& rng) {
    Tensor t = as_float(image, rng);
    if (t.size(1) != img_size || t.size(2) != img_size) t = resize_bilinear(t, img_size, img_size);
    return norm(t, rng);
  };
}

}  // namespace datasets
