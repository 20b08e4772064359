// loss.cpp: cross_entropy (shape handling around the fused kernel) and mse_loss.
#include "nn/loss.h"

#include "autograd/ops.h"

namespace nn {

Variable cross_entropy(const Variable& logits, const Tensor& target, const tensor::CrossEntropyOptions& opt) {
  if (!logits.defined()) throw std::invalid_argument("cross_entropy: logits are undefined");
  tensor::check_defined("cross_entropy", target, "target");
  if (target.dtype() != tensor::DType::Int64)
    throw std::invalid_argument(std::string("cross_entropy: targets must be int64, got ") +
                                tensor::dtype_name(target.dtype()));
  if (logits.dim() < 1) throw std::invalid_argument("cross_entropy: logits must have a class dim, got a 0-d tensor");
  tensor::Shape want(logits.shape().begin(), logits.shape().end() - 1);
  if (target.shape() != want)
    throw std::invalid_argument("cross_entropy: logits of shape " + tensor::shape_str(logits.shape()) +
                                " need targets of shape " + tensor::shape_str(want) + ", got " +
                                tensor::shape_str(target.shape()));
  const int64_t C = logits.size(-1);
  const int64_t N = tensor::numel_of(want);
  return autograd::cross_entropy(autograd::reshape(logits, {N, C}), target.reshape({N}), opt);
}

Variable mse_loss(const Variable& input, const Variable& target, Reduction r) {
  if (!input.defined() || !target.defined()) throw std::invalid_argument("mse_loss: input and target must be defined");
  if (input.shape() != target.shape())
    throw std::invalid_argument("mse_loss: input of shape " + tensor::shape_str(input.shape()) +
                                " and target of shape " + tensor::shape_str(target.shape()) + " differ");
  Variable d = autograd::sub(input, target);
  Variable sq = autograd::mul(d, d);
  switch (r) {
    case Reduction::Mean: return autograd::mean(sq);
    case Reduction::Sum: return autograd::sum(sq);
    case Reduction::None: return sq;
  }
  return sq;
}

}  // namespace nn
