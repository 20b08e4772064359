// decode.cpp: sampling a token from logits, and the generation loop over MambaLM's recurrent form.
#include "mamba/decode.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "tensor/ops.h"

namespace mamba {

int64_t sample_next(const Tensor& logits, const SamplingOptions& opt, tensor::Generator& gen) {
  tensor::check_defined("sample_next", logits, "logits");
  if (logits.dim() != 1 || logits.size(0) < 1)
    throw std::invalid_argument("sample_next: logits must be a non-empty [V], got " + tensor::shape_str(logits.shape()));
  if (!(opt.temperature >= 0)) throw std::invalid_argument("sample_next: temperature must be >= 0, got " + std::to_string(opt.temperature));
  if (opt.top_k < 0) throw std::invalid_argument("sample_next: top_k must be >= 0, got " + std::to_string(opt.top_k));
  if (!(opt.top_p > 0 && opt.top_p <= 1)) throw std::invalid_argument("sample_next: top_p must be in (0, 1], got " + std::to_string(opt.top_p));
  const std::vector<double> x = logits.to_vector();
  const int64_t V = static_cast<int64_t>(x.size());
  if (opt.greedy || opt.temperature == 0) return static_cast<int64_t>(std::max_element(x.begin(), x.end()) - x.begin());
  // candidates by decreasing logit (index order on ties)
  std::vector<int64_t> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return x[a] > x[b]; });
  int64_t keep = opt.top_k > 0 ? std::min(opt.top_k, V) : V;
  std::vector<double> p(static_cast<size_t>(keep));
  const double top = x[order[0]];
  double total = 0;
  for (int64_t i = 0; i < keep; ++i) total += p[i] = std::exp((x[order[i]] - top) / opt.temperature);
  if (opt.top_p < 1) {  // the shortest prefix whose probability reaches top_p (at least one token)
    double mass = 0;
    int64_t n = 0;
    while (n < keep && mass < opt.top_p * total) mass += p[n++];
    keep = std::max<int64_t>(n, 1);
    total = 0;
    for (int64_t i = 0; i < keep; ++i) total += p[i];
  }
  const double u = tensor::rand({1}, tensor::DType::Float64, &gen).item<double>() * total;
  double acc = 0;
  for (int64_t i = 0; i < keep; ++i) {
    acc += p[i];
    if (u < acc) return order[i];
  }
  return order[keep - 1];
}

Tensor generate(MambaLM& model, const Tensor& prompt, const SamplingOptions& opt, tensor::Generator* gen) {
  tensor::check_defined("generate", prompt, "prompt");
  if (prompt.dtype() != tensor::DType::Int64 || prompt.dim() != 2 || prompt.size(1) < 1)
    throw std::invalid_argument("generate: the prompt must be int64 [b, L] with L >= 1, got " +
                                std::string(tensor::dtype_name(prompt.dtype())) + " " + tensor::shape_str(prompt.shape()));
  if (opt.max_new_tokens < 0) throw std::invalid_argument("generate: max_new_tokens must be >= 0");
  tensor::Generator& g = gen ? *gen : tensor::default_generator();
  const int64_t b = prompt.size(0);
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(b));
  const Tensor prompt_host = prompt.to(tensor::Device::cpu());  // one copy, not one per element
  for (int64_t i = 0; i < b; ++i)
    for (int64_t t = 0; t < prompt.size(1); ++t) out[i].push_back(static_cast<int64_t>(prompt_host.at({i, t})));
  InferenceCache cache;
  Tensor logits = model.prefill(prompt, cache).to(tensor::Device::cpu());  // [b, V], sampled on the CPU
  std::vector<bool> done(static_cast<size_t>(b), false);
  for (int64_t step = 0; step < opt.max_new_tokens; ++step) {
    std::vector<int64_t> next(static_cast<size_t>(b));
    for (int64_t i = 0; i < b; ++i) {
      next[i] = done[i] ? *opt.eos_token_id : sample_next(logits.select(0, i), opt, g);
      out[i].push_back(next[i]);
      if (opt.eos_token_id && next[i] == *opt.eos_token_id) done[i] = true;
    }
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; }) || step + 1 == opt.max_new_tokens) break;
    logits = model.step(tensor::from_vector(next, {b}).to(prompt.device()), cache).to(tensor::Device::cpu());
  }
  const int64_t total = static_cast<int64_t>(out[0].size());
  std::vector<int64_t> flat;
  for (const auto& row : out) flat.insert(flat.end(), row.begin(), row.end());
  return tensor::from_vector(flat, {b, total});
}

}  // namespace mamba
