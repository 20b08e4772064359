// api.cpp: load_model, next_token_loss, classify and generate_greedy.
#include "mamba/api.h"

#include <cmath>

#include "autograd/ops.h"
#include "nn/loss.h"
#include "tensor/ops.h"

namespace mamba {

LoadedModel load_model(const std::string& dir, tensor::DType dtype) {
  LoadedModel m;
  m.layout = detect_layout(dir);
  if (m.layout == CheckpointLayout::Vim) m.vim = load_vision_mamba(dir, dtype);
  else m.lm = load_mamba_lm(dir, dtype);
  return m;
}

double LossResult::perplexity() const { return std::exp(mean_loss); }

namespace {
// Where the model's parameters live: the calls below build their index tensors there.
tensor::Device model_device(const nn::Module& model) {
  const auto params = model.parameters();
  return params.empty() ? tensor::Device::cpu() : params.front().data().device();
}
}  // namespace

LossResult next_token_loss(MambaLM& model, const std::vector<int64_t>& tokens, int64_t window) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n < 2) throw std::invalid_argument("next_token_loss: need at least 2 tokens, got " + std::to_string(n));
  if (window == 1 || window < 0)
    throw std::invalid_argument("next_token_loss: window must be 0 (whole sequence) or >= 2, got " + std::to_string(window));
  const int64_t w = window == 0 ? n : window;
  const tensor::Device device = model_device(model);
  autograd::NoGradGuard ng;
  double sum = 0;
  int64_t count = 0;
  for (int64_t start = 0; start + 1 < n; start += w - 1) {
    const int64_t len = std::min(w, n - start);
    std::vector<int64_t> piece(tokens.begin() + start, tokens.begin() + start + len);
    const double mean = model.next_token_loss(tensor::from_vector(piece, {1, len}).to(device)).item<double>();
    sum += mean * static_cast<double>(len - 1);
    count += len - 1;
  }
  return {sum / static_cast<double>(count), count};
}

ClassificationResult classify(VisionMamba& model, const Tensor& images, const Tensor& labels) {
  tensor::check_defined("classify", labels, "labels");
  if (labels.dtype() != tensor::DType::Int64 || labels.dim() != 1 || !images.defined() || images.dim() < 1 ||
      labels.size(0) != images.size(0))
    throw std::invalid_argument("classify: labels must be int64 [B] matching images " +
                                (images.defined() ? tensor::shape_str(images.shape()) : std::string("(undefined)")) +
                                ", got " + tensor::dtype_name(labels.dtype()) + " " + tensor::shape_str(labels.shape()));
  autograd::NoGradGuard ng;
  autograd::Variable logits = model.forward(autograd::Variable(images));  // [B, classes]
  ClassificationResult r;
  r.loss = nn::cross_entropy(logits, labels.to(logits.data().device())).item<double>();
  const Tensor pred = tensor::argmax(logits.data(), 1).to(tensor::Device::cpu()), truth = labels.to(tensor::Device::cpu());
  r.total = labels.size(0);
  for (int64_t i = 0; i < r.total; ++i) r.correct += pred.at({i}) == truth.at({i});
  r.accuracy = r.total ? static_cast<double>(r.correct) / static_cast<double>(r.total) : 0.0;
  return r;
}

std::vector<int64_t> generate_greedy(MambaLM& model, const std::vector<int64_t>& prompt, int64_t max_new_tokens,
                                     std::optional<int64_t> eos_token_id) {
  if (prompt.empty()) throw std::invalid_argument("generate_greedy: the prompt is empty");
  SamplingOptions opt;
  opt.greedy = true;
  opt.max_new_tokens = max_new_tokens;
  opt.eos_token_id = eos_token_id;
  Tensor out =
      generate(model, tensor::from_vector(prompt, {1, static_cast<int64_t>(prompt.size())}).to(model_device(model)), opt);
  std::vector<int64_t> ids;
  for (double v : out.to_vector()) ids.push_back(static_cast<int64_t>(v));
  if (eos_token_id) {  // drop the repeated eos padding after the first one
    auto it = std::find(ids.begin() + static_cast<std::ptrdiff_t>(prompt.size()), ids.end(), *eos_token_id);
    if (it != ids.end()) ids.erase(it + 1, ids.end());
  }
  return ids;
}

}  // namespace mamba
