// lm.cpp: MambaLM: construction and initialisation, forward, losses and recurrent decoding.
//
// Dimension letters: b batch, L sequence, d d_model, V vocabulary (Vp padded).
#include "mamba/lm.h"

#include "autograd/ops.h"
#include "mamba/init.h"
#include "nn/container.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/norm.h"
#include "tensor/ops.h"

namespace mamba {

namespace ag = autograd;

namespace {

// The backbone: embeddings, layers, norm_f (HF's MambaModel).
class MambaBackbone : public nn::Module {
 public:
  MambaBackbone(const MambaConfig& c, tensor::Generator* gen, tensor::DType dtype) : nn::Module("MambaBackbone") {
    register_module("embeddings", std::make_shared<nn::Embedding>(c.padded_vocab(), c.d_model, std::nullopt, gen, dtype));
    auto layers = register_module("layers", std::make_shared<nn::ModuleList>());
    for (int64_t i = 0; i < c.n_layer; ++i) layers->push_back(std::make_shared<MambaBlock>(c.mixer(), c.norm_eps, gen, dtype));
    register_module("norm_f", std::make_shared<nn::RMSNorm>(c.d_model, c.norm_eps, dtype));
  }
};

}  // namespace

MambaLM::MambaLM(const MambaConfig& cfg, tensor::Generator* gen, tensor::DType dtype) : nn::Module("MambaLM"), cfg_(cfg) {
  cfg_.validate();
  register_module("backbone", std::make_shared<MambaBackbone>(cfg_, gen, dtype));
  register_module("lm_head", std::make_shared<nn::Linear>(cfg_.d_model, cfg_.padded_vocab(), false, gen, dtype));
  init_mamba_weights_(*this, cfg_.n_layer, gen, cfg_.initializer_range, cfg_.rescale_prenorm_residual);
  if (cfg_.tie_embeddings) set_parameter("lm_head.weight", parameter("backbone.embeddings.weight"));
}

bool MambaLM::tied() const {
  return parameter("lm_head.weight").same(parameter("backbone.embeddings.weight"));
}

void MambaLM::check_ids(const char* what, const Tensor& ids, int64_t dims) const {
  tensor::check_defined(what, ids, "ids");
  if (ids.dtype() != tensor::DType::Int64)
    throw std::invalid_argument(std::string(what) + ": token ids must be int64, got " + tensor::dtype_name(ids.dtype()));
  if (ids.dim() != dims)
    throw std::invalid_argument(std::string(what) + ": token ids must be " + (dims == 2 ? "[b, L]" : "[b]") + ", got " +
                                tensor::shape_str(ids.shape()));
}

Tensor MambaLM::vocab_slice(const Tensor& logits) const {
  return cfg_.padded_vocab() == cfg_.vocab_size ? logits : logits.narrow(-1, 0, cfg_.vocab_size);
}

Variable MambaLM::hidden_states(const Tensor& ids, InferenceCache* cache) {
  check_ids("MambaLM", ids, 2);
  auto layers = child<nn::ModuleList>("backbone.layers");
  if (cache) *cache = InferenceCache{std::vector<LayerState>(layers->size()), ids.size(1)};
  Variable h = child<nn::Embedding>("backbone.embeddings")->forward(ids);  // [b, L, d]
  Variable residual;
  for (size_t i = 0; i < layers->size(); ++i) {
    auto out = layers->at<MambaBlock>(i)->forward(h, residual, cache ? &cache->layers[i] : nullptr);
    h = out.first;
    residual = out.second;
  }
  residual = ag::add(h, residual);
  return child<nn::UnaryModule>("backbone.norm_f")->forward(residual);
}

Variable MambaLM::forward(const Tensor& ids, InferenceCache* cache) {
  Variable logits = child<nn::UnaryModule>("lm_head")->forward(hidden_states(ids, cache));  // [b, L, Vp]
  if (cfg_.padded_vocab() == cfg_.vocab_size) return logits;
  return ag::narrow(logits, 2, 0, cfg_.vocab_size);  // the padding rows are never predicted
}

Variable MambaLM::loss(const Tensor& ids, const Tensor& targets, int64_t ignore_index) {
  Variable logits = forward(ids);
  tensor::CrossEntropyOptions o;
  o.ignore_index = ignore_index;
  return nn::cross_entropy(logits, targets, o);
}

Variable MambaLM::next_token_loss(const Tensor& ids, int64_t ignore_index) {
  check_ids("MambaLM::next_token_loss", ids, 2);
  const int64_t L = ids.size(1);
  if (L < 2)
    throw std::invalid_argument("MambaLM::next_token_loss: need at least 2 tokens per sequence, got ids of shape " +
                                tensor::shape_str(ids.shape()));
  Variable logits = ag::narrow(forward(ids), 1, 0, L - 1);  // positions 0 .. L-2
  tensor::CrossEntropyOptions o;
  o.ignore_index = ignore_index;
  return nn::cross_entropy(logits, ids.narrow(1, 1, L - 1).contiguous(), o);
}

InferenceCache MambaLM::new_cache(int64_t b) const {
  auto layers = child<nn::ModuleList>("backbone.layers");
  InferenceCache c;
  for (size_t i = 0; i < layers->size(); ++i) c.layers.push_back(layers->at<MambaBlock>(i)->mixer()->new_state(b));
  return c;
}

Tensor MambaLM::prefill(const Tensor& ids, InferenceCache& cache) {
  ag::NoGradGuard ng;
  Tensor logits = forward(ids, &cache).data();  // [b, L, V]
  return logits.select(1, logits.size(1) - 1).contiguous();
}

Tensor MambaLM::step(const Tensor& ids, InferenceCache& cache) {
  check_ids("MambaLM::step", ids, 1);
  auto layers = child<nn::ModuleList>("backbone.layers");
  if (cache.layers.size() != layers->size())
    throw std::invalid_argument("MambaLM::step: the cache has " + std::to_string(cache.layers.size()) +
                                " layers, the model " + std::to_string(layers->size()) + " (use new_cache or prefill)");
  ag::NoGradGuard ng;
  Tensor h = child<nn::Embedding>("backbone.embeddings")->forward(ids).data();  // [b, d]
  Tensor residual;
  for (size_t i = 0; i < layers->size(); ++i) {
    auto out = layers->at<MambaBlock>(i)->step(h, residual, cache.layers[i]);
    h = out.first;
    residual = out.second;
  }
  residual = tensor::add(h, residual);
  Tensor normed = child<nn::UnaryModule>("backbone.norm_f")->forward(Variable(residual)).data();
  Tensor logits = child<nn::UnaryModule>("lm_head")->forward(Variable(normed)).data();  // [b, Vp]
  ++cache.seen;
  return vocab_slice(logits).contiguous();
}

}  // namespace mamba
