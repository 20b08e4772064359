// api.h: the library calls the apps expose: load a model directory of any supported layout, the mean
// next-token loss of a token sequence, classification loss and accuracy over a batch of images, and
// greedy generation.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mamba/checkpoint.h"
#include "mamba/decode.h"

namespace mamba {

// A loaded model: `lm` for the HuggingFace and MambaSSM layouts, `vim` for the Vim layout.
struct LoadedModel {
  CheckpointLayout layout = CheckpointLayout::HuggingFace;
  std::shared_ptr<MambaLM> lm;
  std::shared_ptr<VisionMamba> vim;
};
LoadedModel load_model(const std::string& dir, tensor::DType dtype = tensor::DType::Float32);

// Mean cross-entropy of predicting tokens[1..] from their prefixes (no graph). With window > 0 the
// sequence is cut into windows of `window` tokens that overlap by one, so every token but the first
// is predicted exactly once, with at most `window` tokens of context.
struct LossResult {
  double mean_loss = 0;
  int64_t predicted = 0;  // tokens scored
  double perplexity() const;
};
LossResult next_token_loss(MambaLM& model, const std::vector<int64_t>& tokens, int64_t window = 0);

// Mean cross-entropy and accuracy of images [B, C, H, W] (already normalised) against int64 labels [B]
// (no graph; the model's train/eval mode is left as it is).
struct ClassificationResult {
  double loss = 0, accuracy = 0;
  int64_t correct = 0, total = 0;
};
ClassificationResult classify(VisionMamba& model, const Tensor& images, const Tensor& labels);

// The prompt followed by up to max_new_tokens greedily chosen tokens (stopping after eos when given).
std::vector<int64_t> generate_greedy(MambaLM& model, const std::vector<int64_t>& prompt, int64_t max_new_tokens,
                                     std::optional<int64_t> eos_token_id = std::nullopt);

}  // namespace mamba
