// lm_dir.h: what the LM programs (generate, pretrain_lm, finetune_lm) share about language-model
// directories: loading a MambaLM directory together with its tokenizer, and writing one (weights in
// the Hugging Face layout plus tokenizer.json).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "datasets/tokenizer.h"
#include "mamba/lm.h"

namespace lmapps {

// A language model and the tokenizer its ids belong to.
struct LmDir {
  std::string dir;
  std::shared_ptr<mamba::MambaLM> model;
  std::shared_ptr<datasets::Tokenizer> tokenizer;
  std::string tokenizer_source;  // "bytes", or the tokenizer.json path it was read from
};

// The tokenizer of a model directory: `override_name` ("bytes" or a tokenizer.json path) when
// non-empty, else dir/tokenizer.json. Throws std::runtime_error naming the directory when there is
// neither.
std::shared_ptr<datasets::Tokenizer> load_dir_tokenizer(const std::string& dir, const std::string& override_name,
                                                        std::string* source = nullptr);

// Loads a MambaLM directory (Hugging Face or mamba_ssm layout) and its tokenizer. One-line
// std::runtime_error for a missing directory, a Vim directory, or a tokenizer with more ids than the
// model's vocabulary.
LmDir load_lm_dir(const std::string& dir, const std::string& tokenizer_override = "");

// Writes `model` in the Hugging Face layout into `dir` and its tokenizer next to it: a copy of
// `tokenizer_source` when that is a file, the 256-byte tokenizer.json (with `special_tokens`) when it
// is "bytes". Every file is replaced atomically.
void save_lm_dir(const mamba::MambaLM& model, const std::string& dir, const std::string& tokenizer_source,
                 const std::vector<std::string>& special_tokens = {});

// The special token our byte-level LMs end documents with (id 256).
inline const char* kEndOfText = "<|endoftext|>";

}  // namespace lmapps
