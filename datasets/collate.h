// collate.h: batches. collate_images stacks images of one shape; collate_text right-pads token
// sequences and builds the masks and shifted targets a causal LM trains on. Output tensors are
// allocated in page-locked (pinned) host memory when `pinned` is set, so the copy to a GPU runs at
// full speed (DataLoader sets it when its target is CUDA and a GPU is usable).
#pragma once
#include <cstdint>
#include <vector>

#include "datasets/image_source.h"
#include "datasets/text_sources.h"
#include "tensor/device.h"
#include "tensor/tensor.h"

namespace datasets {

// An uninitialised CPU tensor, pinned (tensor::cuda::pinned_empty) when asked.
tensor::Tensor host_empty(const tensor::Shape& shape, tensor::DType dtype, bool pinned);

struct ImageBatch {
  tensor::Tensor images;         // [B, C, H, W], the examples' dtype (uint8, or float32 after to_float)
  tensor::Tensor labels;         // int64 [B]
  std::vector<int64_t> indices;  // the examples' indices in their source
  void to_device(tensor::Device d);
};

// Throws std::invalid_argument naming the example when shapes or dtypes differ within the batch.
ImageBatch collate_images(std::vector<ImageExample>& examples, const std::vector<int64_t>& indices, bool pinned = false);

struct TextCollateOptions {
  int64_t pad_id = 0;
  // true (causal LM): inputs are ids[:-1], targets ids[1:] where the loss mask is set, else
  // ignore_index. false: inputs are the ids as they are, targets all ignore_index.
  bool shift = true;
  int64_t ignore_index = -100;
};

// With L = the longest example (minus one when shifting):
struct TextBatch {
  tensor::Tensor input_ids;       // int64 [B, L], right-padded with pad_id
  tensor::Tensor targets;         // int64 [B, L]: the next token where it is trained on, else ignore_index
  tensor::Tensor attention_mask;  // float32 [B, L]: 1 on real tokens, 0 on padding
  tensor::Tensor loss_mask;       // float32 [B, L]: 1 where targets holds a token (unshifted: the examples' masks)
  tensor::Tensor labels;          // int64 [B]: the examples' labels (-1 when none)
  tensor::Tensor lengths;         // int64 [B]: real tokens per row of input_ids
  std::vector<int64_t> indices;
  void to_device(tensor::Device d);
};

TextBatch collate_text(std::vector<TextExample>& examples, const std::vector<int64_t>& indices, const TextCollateOptions& opt = {},
                       bool pinned = false);

}  // namespace datasets
