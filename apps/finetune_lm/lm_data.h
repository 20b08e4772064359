// lm_data.h: finetune_lm's data: what --data / --eval-data name (a plain-text file, a JSONL task file,
// a task folder, or the built-in tasks "spam" and "fortunes"), the training batch of a step, and the
// evaluations: mean next-token loss of a text, answer-only loss of prompt/answer pairs, and
// multiple-choice accuracy (acc, acc_norm) scored as lm-eval-harness does.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "datasets/text_sources.h"
#include "datasets/tokenizer.h"
#include "mamba/lm.h"

namespace finetune_lm {

// One data argument, resolved.
struct DataSpec {
  enum class Kind { Text, PromptAnswer, MultipleChoice, TaskDir };
  Kind kind = Kind::Text;
  std::string path;  // the file, or for TaskDir the folder (train.jsonl, test.jsonl, test_choices.jsonl)
};
// "spam" / "spam-body" / "fortunes" build data/tasks/<name> on first use (datasets/task_builders.h); a folder is a
// task folder; *.jsonl is told apart by its first record's fields; anything else is plain text.
// `flag` names the flag in errors.
DataSpec resolve_data(const std::string& arg, const std::string& flag);
const char* kind_name(DataSpec::Kind k);

struct DataOptions {
  int64_t seq_len = 256;     // tokens the model sees per example (longer ones lose their start)
  double held_out = 0.1;     // plain-text training: the tail kept for evaluation without --eval-data
  int64_t eval_limit = 0;    // > 0: evaluate on this many examples / documents, spread evenly
  int64_t batch_size = 8;
  uint64_t seed = 0;
};

// Everything a run trains and evaluates on.
class LmData {
 public:
  // `train` may be null (--eval-only / --dry-run: `data` is then the evaluation set unless `eval` is given).
  LmData(const DataSpec& data, const std::optional<DataSpec>& eval, bool training, const datasets::Tokenizer& tok,
         const DataOptions& opt);

  bool has_training() const { return train_text_ || train_pa_; }
  int64_t train_size() const;             // examples (tasks) or tokens (text)
  int64_t batches_per_epoch() const;
  std::string describe() const;           // one line for the log
  bool has_choices() const { return choices_ != nullptr; }

  // The step-th training batch: (input ids [b, L], targets [b, L] with -100 where no loss) on `dev`,
  // and the tokens it holds.
  struct Batch {
    tensor::Tensor ids, targets;
    int64_t tokens = 0;  // tokens read (padding excluded): the throughput's unit
  };
  Batch train_batch(int64_t step, tensor::Device dev) const;

  // The evaluation: eval_loss (text: mean next-token loss over the text, every token but the first
  // predicted once with at most seq_len tokens of context; tasks: mean answer-token loss) and, with a
  // multiple-choice set, acc and acc_norm.
  struct Eval {
    double loss = 0;
    int64_t tokens = 0;
    std::optional<double> acc, acc_norm;
    int64_t docs = 0;
  };
  Eval evaluate(mamba::MambaLM& model, tensor::Device dev) const;

 private:
  DataOptions opt_;
  // text
  std::shared_ptr<std::vector<int32_t>> train_text_, eval_text_;
  // tasks
  std::shared_ptr<datasets::PromptAnswerSet> train_pa_, eval_pa_;
  std::shared_ptr<datasets::MultipleChoiceSet> choices_;
  std::vector<int64_t> eval_pa_rows_, choice_docs_;  // the evaluated subset
};

}  // namespace finetune_lm
