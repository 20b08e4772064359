// text_sources.cpp: token windows, JSONL prompt/answer and multiple-choice sets, and the
// lm-eval-harness scoring rules.
#include "datasets/text_sources.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "datasets/errors.h"
#include "datasets/file_io.h"
#include "datasets/unicode.h"

namespace datasets {
namespace {

using json = nlohmann::json;

// Calls f(line_number, object) for every non-blank line of a JSONL file.
template <typename F> void for_each_jsonl(const std::string& path, F&& f) {
  const std::string text = read_file_maybe_gzip(path);
  std::istringstream in(text);
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::parse_error& e) {
      fail_at(path, lineno, std::string("invalid JSON (") + e.what() + ")");
    }
    if (!j.is_object()) fail_at(path, lineno, "expected a JSON object, got " + std::string(j.type_name()));
    f(lineno, j);
  }
}

std::string string_field(const json& j, const char* key, const std::string& path, int64_t line) {
  if (!j.contains(key)) fail_at(path, line, std::string("missing field \"") + key + "\"");
  if (!j[key].is_string()) fail_at(path, line, std::string("field \"") + key + "\" must be a string, got " + j[key].type_name());
  return j[key].get<std::string>();
}

}  // namespace

// ---- TokenWindows -------------------------------------------------------------------------------

TokenWindows::TokenWindows(std::shared_ptr<const std::vector<int32_t>> tokens, WindowOptions opt) : tokens_(std::move(tokens)), opt_(opt) {
  if (!tokens_) throw std::invalid_argument("TokenWindows: no token stream");
  if (opt_.seq_len < 1) throw std::invalid_argument("TokenWindows: seq_len must be >= 1, got " + std::to_string(opt_.seq_len));
  if (!(opt_.held_out >= 0 && opt_.held_out < 1))
    throw std::invalid_argument("TokenWindows: held_out must be in [0, 1), got " + std::to_string(opt_.held_out));
  if (opt_.stride < 0) throw std::invalid_argument("TokenWindows: stride must be >= 0");
  const int64_t n = static_cast<int64_t>(tokens_->size());
  const int64_t cut = n - static_cast<int64_t>(std::llround(static_cast<double>(n) * opt_.held_out));
  begin_ = opt_.validation ? cut : 0;
  end_ = opt_.validation ? n : cut;
  const int64_t len = end_ - begin_, need = opt_.seq_len + 1;
  const char* part = opt_.validation ? "held-out" : "training";
  if (len < need)
    throw std::invalid_argument(std::string("TokenWindows: the ") + part + " part has " + std::to_string(len) + " tokens, fewer than seq_len + 1 = " +
                                std::to_string(need));
  stride_ = opt_.stride > 0 ? opt_.stride : opt_.seq_len;
  if (opt_.random) {
    count_ = opt_.windows_per_epoch > 0 ? opt_.windows_per_epoch : std::max<int64_t>(1, len / opt_.seq_len);
  } else {
    count_ = (len - need) / stride_ + 1;
  }
}

TextExample TokenWindows::get(int64_t index, Rng& rng) const {
  check_index("TokenWindows::get", index, count_);
  const int64_t need = opt_.seq_len + 1;
  const int64_t start = opt_.random ? begin_ + rng.randint(0, end_ - begin_ - need + 1) : begin_ + index * stride_;
  TextExample ex;
  ex.ids.assign(tokens_->begin() + start, tokens_->begin() + start + need);
  ex.loss_mask.assign(need, 1);
  ex.loss_mask[0] = 0;  // the first token has nothing before it
  return ex;
}

// ---- PromptAnswerSet ---------------------------------------------------------------------------------

PromptAnswerSet::PromptAnswerSet(const std::string& path, const Tokenizer& tok, PromptAnswerOptions opt) {
  if (opt.max_len < 0) throw std::invalid_argument("PromptAnswerSet: max_len must be >= 0");
  for_each_jsonl(path, [&](int64_t line, const json& j) {
    Item it{string_field(j, "prompt", path, line), string_field(j, "answer", path, line)};
    std::vector<int64_t> p = tok.encode(it.prompt), a = tok.encode(it.answer);
    if (opt.eos_id >= 0) a.push_back(opt.eos_id);
    if (a.empty()) fail_at(path, line, "the answer has no tokens (empty \"answer\" and no eos_id)");
    if (opt.bos_id >= 0) p.insert(p.begin(), opt.bos_id);
    if (opt.max_len > 0) {
      const int64_t over = static_cast<int64_t>(p.size() + a.size()) - opt.max_len;
      if (over > 0) {
        // Keep the bos token and at least one prompt token so the first answer token has context.
        const int64_t keep_front = opt.bos_id >= 0 ? 1 : 0;
        const int64_t can_drop = std::max<int64_t>(0, static_cast<int64_t>(p.size()) - keep_front - 1);
        const int64_t drop = std::min(over, can_drop);
        p.erase(p.begin() + keep_front, p.begin() + keep_front + drop);
        const int64_t still = static_cast<int64_t>(p.size() + a.size()) - opt.max_len;
        if (still > 0) a.resize(a.size() - std::min<int64_t>(still, static_cast<int64_t>(a.size()) - 1));
      }
    }
    TextExample ex;
    ex.ids = p;
    ex.ids.insert(ex.ids.end(), a.begin(), a.end());
    ex.loss_mask.assign(p.size(), 0);
    ex.loss_mask.resize(ex.ids.size(), 1);
    items_.push_back(std::move(it));
    examples_.push_back(std::move(ex));
  });
}

TextExample PromptAnswerSet::get(int64_t index, Rng&) const {
  check_index("PromptAnswerSet::get", index, size());
  return examples_[index];
}

// ---- MultipleChoiceSet -------------------------------------------------------------------------------

MultipleChoiceSet::MultipleChoiceSet(const std::string& path, const Tokenizer& tok, MultipleChoiceOptions opt) {
  for_each_jsonl(path, [&](int64_t line, const json& j) {
    MultipleChoiceDoc d;
    d.context = string_field(j, "context", path, line);
    if (!j.contains("choices")) fail_at(path, line, "missing field \"choices\"");
    if (!j["choices"].is_array() || j["choices"].empty()) fail_at(path, line, "field \"choices\" must be a non-empty array of strings");
    for (const auto& c : j["choices"]) {
      if (!c.is_string()) fail_at(path, line, "field \"choices\" must be a non-empty array of strings");
      d.choices.push_back(c.get<std::string>());
    }
    if (!j.contains("label")) fail_at(path, line, "missing field \"label\"");
    if (!j["label"].is_number_integer()) fail_at(path, line, std::string("field \"label\" must be an integer, got ") + j["label"].type_name());
    d.label = j["label"].get<int64_t>();
    if (d.label < 0 || d.label >= static_cast<int64_t>(d.choices.size()))
      fail_at(path, line, "label " + std::to_string(d.label) + " out of range for " + std::to_string(d.choices.size()) + " choices");

    // Move the context's trailing white space to the front of every continuation.
    const auto units = utf8_units(d.context);
    size_t keep = units.size();
    while (keep > 0 && units[keep - 1].valid && is_whitespace(units[keep - 1].cp)) --keep;
    const size_t cut = keep == units.size() ? d.context.size() : units[keep].begin;
    const std::string ctx = d.context.substr(0, cut), moved = d.context.substr(cut);
    std::vector<int64_t> ctx_ids = tok.encode(ctx);
    if (opt.prefix_id >= 0) ctx_ids.insert(ctx_ids.begin(), opt.prefix_id);
    if (ctx_ids.empty()) fail_at(path, line, "empty context: set MultipleChoiceOptions.prefix_id so the first choice token can be scored");
    const size_t ctx_len = ctx_ids.size() - (opt.prefix_id >= 0 ? 1 : 0);
    first_.push_back(static_cast<int64_t>(requests_.size()));
    for (const auto& choice : d.choices) {
      const std::string cont = moved + opt.delimiter + choice;
      std::vector<int64_t> whole = tok.encode(ctx + cont);
      // The continuation's tokens: those of the whole text after the context's token count.
      if (whole.size() <= ctx_len) fail_at(path, line, "choice \"" + choice + "\" adds no tokens to the context");
      TextExample ex;
      ex.ids = ctx_ids;
      ex.ids.insert(ex.ids.end(), whole.begin() + ctx_len, whole.end());
      ex.loss_mask.assign(ctx_ids.size(), 0);
      ex.loss_mask.resize(ex.ids.size(), 1);
      ex.label = static_cast<int64_t>(docs_.size());
      cont_len_.push_back(static_cast<int64_t>(whole.size() - ctx_len));
      requests_.push_back(std::move(ex));
    }
    docs_.push_back(std::move(d));
  });
}

TextExample MultipleChoiceSet::get(int64_t index, Rng&) const {
  check_index("MultipleChoiceSet::get", index, size());
  return requests_[index];
}

const MultipleChoiceDoc& MultipleChoiceSet::doc(int64_t d) const {
  check_index("MultipleChoiceSet::doc", d, num_docs());
  return docs_[d];
}

int64_t MultipleChoiceSet::first_request(int64_t d) const {
  check_index("MultipleChoiceSet::first_request", d, num_docs());
  return first_[d];
}

int64_t MultipleChoiceSet::continuation_tokens(int64_t request) const {
  check_index("MultipleChoiceSet::continuation_tokens", request, size());
  return cont_len_[request];
}

// ---- scoring -------------------------------------------------------------------------------------------

ChoiceResult score_choices(const std::vector<double>& lls, const std::vector<double>& lengths, int64_t label) {
  if (lls.empty() || lls.size() != lengths.size())
    throw std::invalid_argument("score_choices: need one length per log-likelihood (at least one), got " + std::to_string(lls.size()) +
                                " and " + std::to_string(lengths.size()));
  ChoiceResult r;
  double best = -INFINITY, best_norm = -INFINITY;
  for (size_t i = 0; i < lls.size(); ++i) {
    const double norm = lls[i] / lengths[i];
    if (r.pred < 0 || lls[i] > best) best = lls[i], r.pred = static_cast<int64_t>(i);
    if (r.pred_norm < 0 || norm > best_norm) best_norm = norm, r.pred_norm = static_cast<int64_t>(i);
  }
  r.correct = r.pred == label;
  r.correct_norm = r.pred_norm == label;
  return r;
}

std::vector<double> choice_char_lengths(const MultipleChoiceDoc& doc) {
  std::vector<double> out;
  for (const auto& c : doc.choices) out.push_back(static_cast<double>(utf8_length(c)));
  return out;
}

MultipleChoiceScores score_multiple_choice(const MultipleChoiceSet& set, const std::vector<double>& request_lls, bool by_tokens) {
  if (static_cast<int64_t>(request_lls.size()) != set.size())
    throw std::invalid_argument("score_multiple_choice: " + std::to_string(request_lls.size()) + " log-likelihoods for " +
                                std::to_string(set.size()) + " requests");
  MultipleChoiceScores s;
  for (int64_t d = 0; d < set.num_docs(); ++d) {
    const auto& doc = set.doc(d);
    const int64_t r0 = set.first_request(d), k = static_cast<int64_t>(doc.choices.size());
    std::vector<double> lls(request_lls.begin() + r0, request_lls.begin() + r0 + k);
    std::vector<double> lengths;
    if (by_tokens) {
      for (int64_t c = 0; c < k; ++c) lengths.push_back(static_cast<double>(set.continuation_tokens(r0 + c)));
    } else {
      lengths = choice_char_lengths(doc);
    }
    const ChoiceResult r = score_choices(lls, lengths, doc.label);
    s.acc += r.correct;
    s.acc_norm += r.correct_norm;
  }
  s.docs = set.num_docs();
  if (s.docs > 0) s.acc /= s.docs, s.acc_norm /= s.docs;
  return s;
}

}  // namespace datasets
