// lm_data.cpp: resolving --data, training batches by step, and the three evaluations.
#include "apps/finetune_lm/lm_data.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "autograd/grad_mode.h"
#include "datasets/collate.h"
#include "datasets/data_loader.h"
#include "datasets/data_paths.h"
#include "datasets/file_io.h"
#include "datasets/task_builders.h"
#include "tensor/ops.h"

namespace fs = std::filesystem;

namespace finetune_lm {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The built-in tasks: data/tasks/<name>, built from the installed corpora the first time. "spam" is
// the builder's default (each message's first 2000 bytes, headers included), "spam-body" the first
// 600 bytes of each message's body (more of the text that tells spam apart fits a short window).
std::string builtin_task(const std::string& name) {
  const std::string dir = datasets::data_path("tasks/" + name);
  if (fs::exists(dir + "/train.jsonl") && fs::exists(dir + "/test_choices.jsonl")) return dir;
  if (name == "spam" || name == "spam-body") {
    const std::string src = datasets::spam_assassin_dir();
    if (!fs::is_directory(src))
      throw std::invalid_argument("--data " + name + ": the SpamAssassin corpus is not installed (" + src +
                                  " is missing; run `bash scripts/get-data.sh text`)");
    datasets::SpamTaskOptions opt;
    if (name == "spam-body") opt.body_only = true, opt.max_bytes = 600;
    datasets::build_spam_assassin_task(src, dir, opt);
  } else {
    const std::string src = datasets::fortunes_dir();
    if (!fs::is_directory(src))
      throw std::invalid_argument("--data fortunes: the fortunes are not installed (" + src +
                                  " is missing; run `bash scripts/get-data.sh text`)");
    datasets::build_fortunes_langid_task(src, dir);
  }
  return dir;
}

// Evenly spread indices: all of 0..n-1, or `limit` of them.
std::vector<int64_t> spread(int64_t n, int64_t limit) {
  std::vector<int64_t> v;
  const int64_t k = limit > 0 ? std::min(limit, n) : n;
  for (int64_t i = 0; i < k; ++i) v.push_back(i * n / k);
  return v;
}

std::shared_ptr<std::vector<int32_t>> encode_text(const std::string& path, const datasets::Tokenizer& tok) {
  auto out = std::make_shared<std::vector<int32_t>>();
  for (int64_t id : tok.encode(datasets::read_file(path))) out->push_back(static_cast<int32_t>(id));
  return out;
}

// Keeps the last `max_len` tokens of an example (its start goes first, as PromptAnswerSet trims).
datasets::TextExample keep_tail(datasets::TextExample ex, int64_t max_len) {
  const int64_t n = static_cast<int64_t>(ex.ids.size());
  if (max_len > 0 && n > max_len) {
    ex.ids.erase(ex.ids.begin(), ex.ids.begin() + (n - max_len));
    ex.loss_mask.erase(ex.loss_mask.begin(), ex.loss_mask.begin() + (n - max_len));
  }
  return ex;
}

// Summed log-probability of each row's targets (entries != ignore) under the model.
std::vector<double> row_log_likelihoods(mamba::MambaLM& model, const datasets::TextBatch& b, tensor::Device dev,
                                        int64_t* tokens = nullptr) {
  const tensor::Tensor logits = model.forward(b.input_ids.to(dev)).data().to(tensor::Device::cpu()).contiguous();
  const int64_t R = logits.size(0), L = logits.size(1), V = logits.size(2);
  const std::vector<double> x = logits.to_vector(), t = b.targets.to_vector();
  std::vector<double> ll(static_cast<size_t>(R), 0.0);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t l = 0; l < L; ++l) {
      const int64_t target = static_cast<int64_t>(t[r * L + l]);
      if (target < 0) continue;
      const double* row = x.data() + (r * L + l) * V;
      const double m = *std::max_element(row, row + V);
      double s = 0;
      for (int64_t v = 0; v < V; ++v) s += std::exp(row[v] - m);
      ll[r] += row[target] - m - std::log(s);
      if (tokens) ++*tokens;
    }
  return ll;
}

}  // namespace

const char* kind_name(DataSpec::Kind k) {
  switch (k) {
    case DataSpec::Kind::Text: return "text";
    case DataSpec::Kind::PromptAnswer: return "prompt/answer JSONL";
    case DataSpec::Kind::MultipleChoice: return "multiple-choice JSONL";
    case DataSpec::Kind::TaskDir: return "task folder";
  }
  return "?";
}

DataSpec resolve_data(const std::string& arg, const std::string& flag) {
  if (arg.empty()) throw std::invalid_argument(flag + ": no data given");
  if (arg == "spam" || arg == "spam-body" || arg == "fortunes") return {DataSpec::Kind::TaskDir, builtin_task(arg)};
  if (fs::is_directory(arg)) {
    for (const char* f : {"train.jsonl", "test.jsonl", "test_choices.jsonl"})
      if (fs::exists(arg + "/" + f)) return {DataSpec::Kind::TaskDir, arg};
    throw std::invalid_argument(flag + ": the folder " + arg + " holds no train.jsonl, test.jsonl or test_choices.jsonl");
  }
  if (!fs::is_regular_file(arg))
    throw std::invalid_argument(flag + ": no such file '" + arg +
                                "' (a text file, a .jsonl task, a task folder, or the tasks spam / spam-body / fortunes)");
  if (!ends_with(arg, ".jsonl")) return {DataSpec::Kind::Text, arg};
  std::ifstream in(arg);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      throw std::invalid_argument(arg + ":" + std::to_string(n) + ": not a JSON object");
    if (j.contains("prompt") && j.contains("answer")) return {DataSpec::Kind::PromptAnswer, arg};
    if (j.contains("context") && j.contains("choices")) return {DataSpec::Kind::MultipleChoice, arg};
    throw std::invalid_argument(arg + ":" + std::to_string(n) +
                                ": neither {\"prompt\", \"answer\"} nor {\"context\", \"choices\", \"label\"}");
  }
  throw std::invalid_argument(flag + ": " + arg + " holds no records");
}

LmData::LmData(const DataSpec& data, const std::optional<DataSpec>& eval, bool training, const datasets::Tokenizer& tok,
               const DataOptions& opt)
    : opt_(opt) {
  if (opt_.seq_len < 2) throw std::invalid_argument("--seq-len must be >= 2, got " + std::to_string(opt_.seq_len));
  datasets::PromptAnswerOptions pa;
  pa.max_len = opt_.seq_len + 1;
  auto load_eval = [&](const DataSpec& s, const std::string& flag) {
    switch (s.kind) {
      case DataSpec::Kind::Text: eval_text_ = encode_text(s.path, tok); break;
      case DataSpec::Kind::PromptAnswer: eval_pa_ = std::make_shared<datasets::PromptAnswerSet>(s.path, tok, pa); break;
      case DataSpec::Kind::MultipleChoice: choices_ = std::make_shared<datasets::MultipleChoiceSet>(s.path, tok); break;
      case DataSpec::Kind::TaskDir: {
        // With test_choices.jsonl the loss comes from its right answers (the same sequences as
        // test.jsonl's), so test.jsonl is read only when there are no choices.
        const std::string test = s.path + "/test.jsonl", mc = s.path + "/test_choices.jsonl";
        if (fs::exists(mc)) choices_ = std::make_shared<datasets::MultipleChoiceSet>(mc, tok);
        else if (fs::exists(test)) eval_pa_ = std::make_shared<datasets::PromptAnswerSet>(test, tok, pa);
        if (!eval_pa_ && !choices_) throw std::invalid_argument(flag + ": " + s.path + " has no test.jsonl or test_choices.jsonl");
        break;
      }
    }
  };
  if (training) {
    switch (data.kind) {
      case DataSpec::Kind::Text: {
        auto all = encode_text(data.path, tok);
        if (eval) {
          train_text_ = all;
        } else {  // the tail is held out
          const int64_t n = static_cast<int64_t>(all->size()), cut = n - static_cast<int64_t>(std::floor(n * opt_.held_out));
          train_text_ = std::make_shared<std::vector<int32_t>>(all->begin(), all->begin() + cut);
          eval_text_ = std::make_shared<std::vector<int32_t>>(all->begin() + cut, all->end());
        }
        if (static_cast<int64_t>(train_text_->size()) < opt_.seq_len + 1)
          throw std::invalid_argument("--data: " + data.path + " has " + std::to_string(train_text_->size()) +
                                      " training tokens, fewer than --seq-len + 1 = " + std::to_string(opt_.seq_len + 1));
        break;
      }
      case DataSpec::Kind::PromptAnswer:
        train_pa_ = std::make_shared<datasets::PromptAnswerSet>(data.path, tok, pa);
        if (!eval) eval_pa_ = train_pa_;
        break;
      case DataSpec::Kind::MultipleChoice:
        throw std::invalid_argument("--data: " + data.path +
                                    " is a multiple-choice file: it can be evaluated (--eval-only or --eval-data), not trained on");
      case DataSpec::Kind::TaskDir: {
        const std::string tr = data.path + "/train.jsonl";
        if (!fs::exists(tr)) throw std::invalid_argument("--data: the task folder " + data.path + " has no train.jsonl");
        train_pa_ = std::make_shared<datasets::PromptAnswerSet>(tr, tok, pa);
        if (!eval) load_eval(data, "--data");
        break;
      }
    }
    if (train_pa_ && train_pa_->size() == 0) throw std::invalid_argument("--data: " + data.path + " holds no examples");
    if (eval) load_eval(*eval, "--eval-data");
  } else {
    load_eval(eval ? *eval : data, eval ? "--eval-data" : "--data");
  }
  if (eval_text_ && eval_text_->size() < 2)
    throw std::invalid_argument("the evaluation text has " + std::to_string(eval_text_->size()) + " tokens; at least 2 are needed");
  if (eval_pa_) eval_pa_rows_ = spread(eval_pa_->size(), opt_.eval_limit);
  if (choices_) choice_docs_ = spread(choices_->num_docs(), opt_.eval_limit);
  if (eval_pa_ && eval_pa_rows_.empty()) throw std::invalid_argument("the evaluation set holds no examples");
  if (choices_ && choice_docs_.empty()) throw std::invalid_argument("the multiple-choice set holds no documents");
}

int64_t LmData::train_size() const {
  if (train_text_) return static_cast<int64_t>(train_text_->size());
  return train_pa_ ? train_pa_->size() : 0;
}

int64_t LmData::batches_per_epoch() const {
  const int64_t B = opt_.batch_size;
  if (train_text_) return std::max<int64_t>(1, static_cast<int64_t>(train_text_->size()) / (B * opt_.seq_len));
  return train_pa_ ? (train_pa_->size() + B - 1) / B : 0;
}

std::string LmData::describe() const {
  std::string s;
  if (train_text_) s += "training on " + std::to_string(train_text_->size()) + " text tokens";
  if (train_pa_) s += "training on " + std::to_string(train_pa_->size()) + " prompt/answer examples";
  s += s.empty() ? "evaluating on " : "; evaluating on ";
  std::string e;
  if (eval_text_) e += std::to_string(eval_text_->size()) + " text tokens";
  if (eval_pa_) e += std::to_string(eval_pa_rows_.size()) + " prompt/answer examples";
  if (choices_) e += (e.empty() ? "" : " and ") + std::to_string(choice_docs_.size()) + " multiple-choice documents";
  return s + e;
}

LmData::Batch LmData::train_batch(int64_t step, tensor::Device dev) const {
  const int64_t B = opt_.batch_size, T = opt_.seq_len;
  Batch out;
  if (train_text_) {  // random windows drawn from (seed, step)
    const int64_t span = static_cast<int64_t>(train_text_->size()) - (T + 1);
    std::vector<int64_t> in, tg;
    for (int64_t i = 0; i < B; ++i) {
      datasets::Rng rng = datasets::Rng::for_example(opt_.seed, static_cast<uint64_t>(step), i);
      const int64_t s = rng.randint(0, span + 1);
      in.insert(in.end(), train_text_->begin() + s, train_text_->begin() + s + T);
      tg.insert(tg.end(), train_text_->begin() + s + 1, train_text_->begin() + s + T + 1);
    }
    out.ids = tensor::from_vector(in, {B, T}).to(dev);
    out.targets = tensor::from_vector(tg, {B, T}).to(dev);
    out.tokens = B * T;
    return out;
  }
  if (!train_pa_) throw std::logic_error("train_batch: no training data");
  // epoch order shuffled from (seed, epoch); batch b of it
  const int64_t bpe = batches_per_epoch(), epoch = step / bpe, b = step % bpe, n = train_pa_->size();
  const std::vector<int64_t> order = datasets::epoch_order(n, true, opt_.seed, static_cast<uint64_t>(epoch));
  std::vector<int64_t> idx(order.begin() + b * B, order.begin() + std::min(n, (b + 1) * B));
  std::vector<datasets::TextExample> ex;
  datasets::Rng rng(0, 0);
  for (int64_t i : idx) ex.push_back(train_pa_->get(i, rng));
  datasets::TextBatch tb = datasets::collate_text(ex, idx);
  out.ids = tb.input_ids.to(dev);
  out.targets = tb.targets.to(dev);
  out.tokens = static_cast<int64_t>(tensor::sum(tb.lengths).item<double>());
  return out;
}

LmData::Eval LmData::evaluate(mamba::MambaLM& model, tensor::Device dev) const {
  autograd::NoGradGuard no_grad;
  const int64_t B = opt_.batch_size, T = opt_.seq_len;
  Eval r;
  double sum = 0;  // summed negative log-likelihood over r.tokens
  if (eval_text_) {
    // windows of T + 1 tokens starting every T tokens: each token but the first is predicted once
    const auto& x = *eval_text_;
    const int64_t n = static_cast<int64_t>(x.size());
    std::vector<int64_t> full;
    int64_t start = 0;
    for (; start + T + 1 <= n; start += T) full.push_back(start);
    for (size_t w0 = 0; w0 < full.size(); w0 += static_cast<size_t>(B)) {
      std::vector<int64_t> ids;
      const size_t w1 = std::min(full.size(), w0 + static_cast<size_t>(B));
      for (size_t w = w0; w < w1; ++w) ids.insert(ids.end(), x.begin() + full[w], x.begin() + full[w] + T + 1);
      const int64_t rows = static_cast<int64_t>(w1 - w0);
      const double mean = model.next_token_loss(tensor::from_vector(ids, {rows, T + 1}).to(dev)).data().to_vector().at(0);
      sum += mean * static_cast<double>(rows * T);
      r.tokens += rows * T;
    }
    if (start + 1 < n) {  // the shorter last window
      std::vector<int64_t> ids(x.begin() + start, x.end());
      const int64_t len = n - start;
      const double mean = model.next_token_loss(tensor::from_vector(ids, {1, len}).to(dev)).data().to_vector().at(0);
      sum += mean * static_cast<double>(len - 1);
      r.tokens += len - 1;
    }
  }
  if (eval_pa_) {
    datasets::Rng rng(0, 0);
    for (size_t i0 = 0; i0 < eval_pa_rows_.size(); i0 += static_cast<size_t>(B)) {
      std::vector<int64_t> idx(eval_pa_rows_.begin() + i0,
                               eval_pa_rows_.begin() + std::min(eval_pa_rows_.size(), i0 + static_cast<size_t>(B)));
      std::vector<datasets::TextExample> ex;
      for (int64_t i : idx) ex.push_back(eval_pa_->get(i, rng));
      const datasets::TextBatch tb = datasets::collate_text(ex, idx);
      for (double ll : row_log_likelihoods(model, tb, dev, &r.tokens)) sum -= ll;
    }
  }
  if (choices_) {
    // every request of the chosen documents, B at a time
    std::vector<int64_t> reqs;
    for (int64_t d : choice_docs_)
      for (size_t c = 0; c < choices_->doc(d).choices.size(); ++c) reqs.push_back(choices_->first_request(d) + static_cast<int64_t>(c));
    std::vector<double> ll(reqs.size());
    std::vector<int64_t> cont_tokens(reqs.size());
    datasets::Rng rng(0, 0);
    for (size_t i0 = 0; i0 < reqs.size(); i0 += static_cast<size_t>(B)) {
      const size_t i1 = std::min(reqs.size(), i0 + static_cast<size_t>(B));
      std::vector<int64_t> idx(reqs.begin() + i0, reqs.begin() + i1);
      std::vector<datasets::TextExample> ex;
      for (int64_t q : idx) ex.push_back(keep_tail(choices_->get(q, rng), T + 1));
      const datasets::TextBatch tb = datasets::collate_text(ex, idx);
      const auto part = row_log_likelihoods(model, tb, dev);
      std::copy(part.begin(), part.end(), ll.begin() + static_cast<std::ptrdiff_t>(i0));
      for (size_t i = i0; i < i1; ++i) cont_tokens[i] = choices_->continuation_tokens(reqs[i]);
    }
    double acc = 0, acc_norm = 0, correct_nll = 0;
    int64_t correct_tokens = 0;
    size_t q = 0;
    for (int64_t d : choice_docs_) {
      const auto& doc = choices_->doc(d);
      const size_t k = doc.choices.size();
      std::vector<double> lls(ll.begin() + static_cast<std::ptrdiff_t>(q), ll.begin() + static_cast<std::ptrdiff_t>(q + k));
      const datasets::ChoiceResult cr = datasets::score_choices(lls, datasets::choice_char_lengths(doc), doc.label);
      acc += cr.correct;
      acc_norm += cr.correct_norm;
      correct_nll -= lls[static_cast<size_t>(doc.label)];
      correct_tokens += cont_tokens[q + static_cast<size_t>(doc.label)];
      q += k;
    }
    r.docs = static_cast<int64_t>(choice_docs_.size());
    r.acc = acc / static_cast<double>(r.docs);
    r.acc_norm = acc_norm / static_cast<double>(r.docs);
    if (!eval_text_ && !eval_pa_) {  // the loss of the right answers (a task's eval_loss)
      sum = correct_nll;
      r.tokens = correct_tokens;
    }
  }
  r.loss = r.tokens > 0 ? sum / static_cast<double>(r.tokens) : 0.0;
  return r;
}

}  // namespace finetune_lm
