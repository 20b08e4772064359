// collate.cpp: stacking images, padding token sequences, pinned host staging.
#include "datasets/collate.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "tensor/cuda/copy.h"

namespace datasets {

tensor::Tensor host_empty(const tensor::Shape& shape, tensor::DType dtype, bool pinned) {
  return pinned ? tensor::cuda::pinned_empty(shape, dtype) : tensor::Tensor::empty(shape, dtype);
}

namespace {
void move_to(tensor::Tensor& t, tensor::Device d) {
  if (t.defined() && t.device() != d) t = t.to(d);
}
}  // namespace

void ImageBatch::to_device(tensor::Device d) {
  move_to(images, d);
  move_to(labels, d);
}

void TextBatch::to_device(tensor::Device d) {
  for (tensor::Tensor* t : {&input_ids, &targets, &attention_mask, &loss_mask, &labels, &lengths}) move_to(*t, d);
}

ImageBatch collate_images(std::vector<ImageExample>& examples, const std::vector<int64_t>& indices, bool pinned) {
  if (examples.empty()) throw std::invalid_argument("collate_images: empty batch");
  const tensor::Tensor& first = examples[0].image;
  for (size_t i = 0; i < examples.size(); ++i) {
    const tensor::Tensor& im = examples[i].image;
    const std::string which = "example " + std::to_string(i) + (i < indices.size() ? " (index " + std::to_string(indices[i]) + ")" : "");
    if (!im.defined() || im.dim() != 3)
      throw std::invalid_argument("collate_images: " + which + " is not an image [C, H, W]" + (im.defined() ? ", shape " + tensor::shape_str(im.shape()) : ""));
    if (im.shape() != first.shape() || im.dtype() != first.dtype())
      throw std::invalid_argument("collate_images: " + which + " is " + tensor::dtype_name(im.dtype()) + " " + tensor::shape_str(im.shape()) +
                                  ", the batch's first is " + tensor::dtype_name(first.dtype()) + " " + tensor::shape_str(first.shape()) +
                                  " (add a resize or crop transform)");
  }
  const int64_t B = static_cast<int64_t>(examples.size());
  tensor::Shape shape = first.shape();
  shape.insert(shape.begin(), B);
  ImageBatch batch;
  batch.images = host_empty(shape, first.dtype(), pinned);
  batch.labels = host_empty({B}, tensor::DType::Int64, pinned);
  const size_t bytes = static_cast<size_t>(first.numel()) * first.element_size();
  auto* dst = static_cast<unsigned char*>(batch.images.raw_data());
  for (int64_t i = 0; i < B; ++i) {
    const tensor::Tensor im = examples[i].image.contiguous();
    std::memcpy(dst + i * bytes, im.raw_data(), bytes);
    batch.labels.data<int64_t>()[i] = examples[i].label;
  }
  batch.indices = indices;
  return batch;
}

TextBatch collate_text(std::vector<TextExample>& examples, const std::vector<int64_t>& indices, const TextCollateOptions& opt, bool pinned) {
  if (examples.empty()) throw std::invalid_argument("collate_text: empty batch");
  const int64_t B = static_cast<int64_t>(examples.size()), drop = opt.shift ? 1 : 0;
  int64_t L = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    const auto& ex = examples[i];
    if (ex.loss_mask.size() != ex.ids.size())
      throw std::invalid_argument("collate_text: example " + std::to_string(i) + " has " + std::to_string(ex.ids.size()) + " ids but " +
                                  std::to_string(ex.loss_mask.size()) + " loss-mask entries");
    if (static_cast<int64_t>(ex.ids.size()) < 1 + drop)
      throw std::invalid_argument("collate_text: example " + std::to_string(i) + " has " + std::to_string(ex.ids.size()) +
                                  " tokens; shifting needs at least 2");
    L = std::max<int64_t>(L, static_cast<int64_t>(ex.ids.size()) - drop);
  }
  TextBatch b;
  b.input_ids = host_empty({B, L}, tensor::DType::Int64, pinned);
  b.targets = host_empty({B, L}, tensor::DType::Int64, pinned);
  b.attention_mask = host_empty({B, L}, tensor::DType::Float32, pinned);
  b.loss_mask = host_empty({B, L}, tensor::DType::Float32, pinned);
  b.labels = host_empty({B}, tensor::DType::Int64, pinned);
  b.lengths = host_empty({B}, tensor::DType::Int64, pinned);
  int64_t* in = b.input_ids.data<int64_t>();
  int64_t* tg = b.targets.data<int64_t>();
  float* am = b.attention_mask.data<float>();
  float* lm = b.loss_mask.data<float>();
  for (int64_t r = 0; r < B; ++r) {
    const auto& ex = examples[r];
    const int64_t n = static_cast<int64_t>(ex.ids.size()) - drop;
    for (int64_t t = 0; t < L; ++t) {
      const int64_t k = r * L + t;
      const bool real = t < n;
      in[k] = real ? ex.ids[t] : opt.pad_id;
      am[k] = real ? 1.0f : 0.0f;
      if (opt.shift) {
        const bool trained = real && ex.loss_mask[t + 1];
        tg[k] = trained ? ex.ids[t + 1] : opt.ignore_index;
        lm[k] = trained ? 1.0f : 0.0f;
      } else {
        tg[k] = opt.ignore_index;
        lm[k] = real && ex.loss_mask[t] ? 1.0f : 0.0f;
      }
    }
    b.labels.data<int64_t>()[r] = ex.label;
    b.lengths.data<int64_t>()[r] = n;
  }
  b.indices = indices;
  return b;
}

}  // namespace datasets
