// text_sources.h: text examples for language models. A TextExample is a token sequence with a
// per-token loss mask (1 where the token is a prediction target); collate_text (collate.h) turns a
// batch of them into padded input/target tensors. Sources:
//   TokenWindows       training windows cut from a token stream (token_cache.h), random or
//                      contiguous, with a held-out tail for validation;
//   PromptAnswerSet    JSONL {"prompt": ..., "answer": ...}: the loss covers the answer only (the
//                      ProDiaL fine-tuning recipe);
//   MultipleChoiceSet  JSONL {"context": ..., "choices": [...], "label": k}: one example per
//                      (document, choice), scored as lm-eval-harness does (acc and acc_norm).
// Sources are read-only after construction; get() may run on several loader threads at once.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datasets/rng.h"
#include "datasets/tokenizer.h"

namespace datasets {

struct TextExample {
  std::vector<int64_t> ids;
  std::vector<uint8_t> loss_mask;  // same length as ids; 1 = this token is predicted (from the one before)
  int64_t label = -1;              // class label, or for multiple choice the document index
};

class TextSource {
 public:
  virtual ~TextSource() = default;
  virtual int64_t size() const = 0;
  virtual TextExample get(int64_t index, Rng& rng) const = 0;
};

// ---- token stream windows ------------------------------------------------------------------------

struct WindowOptions {
  int64_t seq_len = 256;      // tokens a model sees; each example holds seq_len + 1 ids (inputs + next token)
  bool random = false;        // random starts (uniform over the part) instead of contiguous windows
  int64_t stride = 0;         // contiguous: distance between window starts (0: seq_len, no overlap)
  double held_out = 0.0;      // fraction of the stream, at its end, kept for validation
  bool validation = false;    // this source covers the held-out tail instead of the training part
  int64_t windows_per_epoch = 0;  // random: examples per epoch (0: part length / seq_len)
};

class TokenWindows : public TextSource {
 public:
  TokenWindows(std::shared_ptr<const std::vector<int32_t>> tokens, WindowOptions opt);
  int64_t size() const override { return count_; }
  TextExample get(int64_t index, Rng& rng) const override;
  int64_t part_begin() const { return begin_; }  // the token range this source draws from
  int64_t part_end() const { return end_; }

 private:
  std::shared_ptr<const std::vector<int32_t>> tokens_;
  WindowOptions opt_;
  int64_t begin_ = 0, end_ = 0, count_ = 0, stride_ = 0;
};

// ---- JSONL prompt / answer -------------------------------------------------------------------------

struct PromptAnswerOptions {
  int64_t bos_id = -1;  // prepended when >= 0
  int64_t eos_id = -1;  // appended after the answer (and part of the loss) when >= 0
  int64_t max_len = 0;  // > 0: longer examples lose tokens from the start of the prompt (then the end of the answer)
};

class PromptAnswerSet : public TextSource {
 public:
  struct Item {
    std::string prompt, answer;
  };
  // Reads and tokenizes the whole file. Blank lines are skipped; a line that is not a JSON object
  // or lacks a string "prompt" / "answer" is a DataError "path:line: ...".
  PromptAnswerSet(const std::string& path, const Tokenizer& tok, PromptAnswerOptions opt = {});
  int64_t size() const override { return static_cast<int64_t>(examples_.size()); }
  TextExample get(int64_t index, Rng& rng) const override;
  const std::vector<Item>& items() const { return items_; }

 private:
  std::vector<Item> items_;
  std::vector<TextExample> examples_;
};

// ---- multiple choice ---------------------------------------------------------------------------------

struct MultipleChoiceDoc {
  std::string context;
  std::vector<std::string> choices;
  int64_t label = 0;
};

struct MultipleChoiceOptions {
  std::string delimiter = " ";  // put between context and choice (lm-eval-harness target_delimiter)
  int64_t prefix_id = -1;       // prepended to every request when >= 0 (needed for an empty context)
};

// Requests are laid out document by document: request r = (doc, choice). Each holds the tokens of
// context + delimiter + choice with the loss mask on the continuation, encoded the lm-eval-harness
// way: trailing white space of the context moves to the continuation, then the continuation tokens
// are those of encode(context + continuation) after the first len(encode(context)).
class MultipleChoiceSet : public TextSource {
 public:
  // DataError "path:line: ..." for a line that is not a JSON object, lacks "context" (string),
  // "choices" (non-empty array of strings) or "label" (integer), or whose label is out of range.
  MultipleChoiceSet(const std::string& path, const Tokenizer& tok, MultipleChoiceOptions opt = {});
  int64_t size() const override { return static_cast<int64_t>(requests_.size()); }  // requests
  TextExample get(int64_t index, Rng& rng) const override;
  int64_t num_docs() const { return static_cast<int64_t>(docs_.size()); }
  const MultipleChoiceDoc& doc(int64_t d) const;
  int64_t first_request(int64_t d) const;  // requests of doc d are first_request(d) + choice
  int64_t continuation_tokens(int64_t request) const;

 private:
  std::vector<MultipleChoiceDoc> docs_;
  std::vector<int64_t> first_;
  std::vector<TextExample> requests_;
  std::vector<int64_t> cont_len_;
};

// ---- scoring (lm-eval-harness's multiple_choice metrics) --------------------------------------------

struct ChoiceResult {
  int64_t pred = -1, pred_norm = -1;  // argmax of ll, and of ll / length (first maximum wins, as numpy)
  bool correct = false, correct_norm = false;
};
// One document: lls[i] = summed log-likelihood of choice i's continuation, lengths[i] = its length
// (lm-eval-harness divides by the choice's length in characters; token counts also work).
ChoiceResult score_choices(const std::vector<double>& lls, const std::vector<double>& lengths, int64_t label);
// Character lengths of each choice (code points, as Python's len), what acc_norm divides by.
std::vector<double> choice_char_lengths(const MultipleChoiceDoc& doc);

struct MultipleChoiceScores {
  double acc = 0, acc_norm = 0;
  int64_t docs = 0;
};
// A whole set: request_lls[r] for every request r of `set`. acc_norm normalizes by characters
// (lm-eval-harness), or by continuation tokens when by_tokens.
MultipleChoiceScores score_multiple_choice(const MultipleChoiceSet& set, const std::vector<double>& request_lls, bool by_tokens = false);

}  // namespace datasets
