// embedding.cpp: Embedding's initialisation and lookup.
#include "nn/embedding.h"

#include "autograd/ops.h"
#include "nn/init.h"
#include "tensor/ops.h"

namespace nn {

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx,
                     tensor::Generator* gen, tensor::DType dtype)
    : Module("Embedding"), num_(num_embeddings), dim_(embedding_dim) {
  if (num_embeddings <= 0 || embedding_dim <= 0)
    throw std::invalid_argument("Embedding: num_embeddings and embedding_dim must be positive, got " +
                                std::to_string(num_embeddings) + " and " + std::to_string(embedding_dim));
  if (padding_idx) {
    int64_t p = *padding_idx < 0 ? *padding_idx + num_embeddings : *padding_idx;
    if (p < 0 || p >= num_embeddings)
      throw std::invalid_argument("Embedding: padding_idx " + std::to_string(*padding_idx) + " is out of range for " +
                                  std::to_string(num_embeddings) + " embeddings");
    padding_idx_ = p;
  }
  Tensor w = Tensor::empty({num_embeddings, embedding_dim}, dtype);
  init::normal_(w, gen, 0.0, 1.0);
  if (padding_idx_) w.select(0, *padding_idx_).fill_(0.0);
  register_parameter("weight", w);
}

Variable Embedding::forward(const Tensor& ids) {
  tensor::check_defined("Embedding", ids, "ids");
  if (ids.dtype() != tensor::DType::Int64)
    throw std::invalid_argument(std::string("Embedding: ids must be int64, got ") + tensor::dtype_name(ids.dtype()));
  return autograd::embedding(weight(), ids, padding_idx_ ? *padding_idx_ : -1);
}

std::string Embedding::extra_repr() const {
  std::string s = std::to_string(num_) + ", " + std::to_string(dim_);
  if (padding_idx_) s += ", padding_idx=" + std::to_string(*padding_idx_);
  return s;
}

}  // namespace nn
