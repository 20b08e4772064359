// embedding.h: Embedding, a lookup table weight [num_embeddings, embedding_dim] indexed by int64 ids.
#pragma once
#include <optional>

#include "nn/module.h"
#include "tensor/generator.h"

namespace nn {

class Embedding : public Module {
 public:
  // weight ~ N(0, 1) as nn.Embedding; the padding row (if any) starts at zero and never gets a
  // gradient. A negative padding_idx counts from the end, as in PyTorch.
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt,
            tensor::Generator* gen = nullptr, tensor::DType dtype = tensor::DType::Float32);
  // ids: int64, any shape -> [*ids.shape, embedding_dim]. Out-of-range ids throw naming the id.
  Variable forward(const Tensor& ids);
  Variable operator()(const Tensor& ids) { return forward(ids); }

  int64_t num_embeddings() const { return num_; }
  int64_t embedding_dim() const { return dim_; }
  std::optional<int64_t> padding_idx() const { return padding_idx_; }
  Variable weight() const { return local_parameter("weight"); }
  std::string extra_repr() const override;

 private:
  int64_t num_, dim_;
  std::optional<int64_t> padding_idx_;
};

}  // namespace nn
