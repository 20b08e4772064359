// decode.h: text generation with MambaLM's recurrent form (O(1) work per token): greedy, temperature,
// top-k and top-p (nucleus) sampling from a seeded Generator, so a run is reproducible.
#pragma once
#include <cstdint>
#include <optional>

#include "mamba/lm.h"
#include "tensor/generator.h"

namespace mamba {

struct SamplingOptions {
  int64_t max_new_tokens = 32;
  bool greedy = false;       // argmax; also when temperature == 0
  double temperature = 1.0;  // logits are divided by it
  int64_t top_k = 0;         // keep the k most likely tokens (0: all)
  double top_p = 1.0;        // keep the smallest set of most likely tokens whose mass reaches top_p
  std::optional<int64_t> eos_token_id;  // a sequence that emits it stops (keeps emitting it)
};

// The next token from one row of logits [V]: argmax (first on ties) when greedy, else a draw from
// softmax(logits / temperature) restricted by top_k and top_p.
int64_t sample_next(const Tensor& logits, const SamplingOptions& opt, tensor::Generator& gen);

// Extends every prompt of ids [b, L0] (L0 >= 1) by up to max_new_tokens tokens: a prefill over the
// prompt, then one recurrent step per token. Returns [b, L0 + generated]; generation stops early when
// every row has emitted eos_token_id.
Tensor generate(MambaLM& model, const Tensor& prompt, const SamplingOptions& opt, tensor::Generator* gen = nullptr);

}  // namespace mamba
