// data_loader.cpp: the epoch order and the image / text loader factories.
#include "datasets/data_loader.h"

namespace datasets {

std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, uint64_t epoch) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (shuffle && n > 1) {
    // Its own stream (the last one), apart from every example's augmentation stream.
    Rng rng(mix64(seed, epoch), ~uint64_t{0});
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.randint(0, i + 1)]);
  }
  return order;
}

std::unique_ptr<ImageLoader> make_image_loader(std::shared_ptr<const ImageSource> source, Transform transform, LoaderOptions opt) {
  if (!source) throw std::invalid_argument("make_image_loader: no source");
  const int64_t n = source->size();
  auto get = [source, transform](int64_t i, Rng& rng) {
    ImageExample ex = source->get(i);
    if (transform) ex.image = transform(ex.image, rng);
    return ex;
  };
  auto collate = [](std::vector<ImageExample>& ex, const std::vector<int64_t>& idx, bool pinned) { return collate_images(ex, idx, pinned); };
  return std::make_unique<ImageLoader>(n, get, collate, opt);
}

std::unique_ptr<TextLoader> make_text_loader(std::shared_ptr<const TextSource> source, TextCollateOptions copt, LoaderOptions opt) {
  if (!source) throw std::invalid_argument("make_text_loader: no source");
  const int64_t n = source->size();
  auto get = [source](int64_t i, Rng& rng) { return source->get(i, rng); };
  auto collate = [copt](std::vector<TextExample>& ex, const std::vector<int64_t>& idx, bool pinned) {
    return collate_text(ex, idx, copt, pinned);
  };
  return std::make_unique<TextLoader>(n, get, collate, opt);
}

}  // namespace datasets
