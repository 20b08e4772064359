// bpe_tokenizer.cpp: tokenizer.json parsing (strict about what it cannot reproduce), added-token
// splitting, byte-level BPE with a merge heap (the order HF tokenizers applies merges in), decoding
// and the byte-level tokenizer.json writer.
#include "datasets/bpe_tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <queue>
#include <stdexcept>
#include <tuple>

#include "datasets/byte_level.h"
#include "datasets/errors.h"
#include "datasets/file_io.h"
#include "datasets/unicode.h"

namespace datasets {
namespace {

using json = nlohmann::json;

std::string type_of(const json& j) { return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : ""; }

bool null_or_empty_string(const json& j) { return j.is_null() || (j.is_string() && j.get<std::string>().empty()); }

// Word character for single_word added tokens: a letter, a number or '_'.
bool is_word_char(char32_t cp) { return is_letter(cp) || is_number(cp) || cp == '_'; }

// The last / first code point of text[0, end) / text[begin, ...): decoded around the boundary.
char32_t cp_before(const std::string& s, size_t end) {
  if (end == 0) return 0;
  size_t b = end - 1;
  while (b > 0 && end - b < 4 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  const auto u = utf8_units(s.substr(b, end - b));
  return u.empty() ? 0 : u.back().cp;
}
char32_t cp_at(const std::string& s, size_t begin) {
  if (begin >= s.size()) return 0;
  const auto u = utf8_units(s.substr(begin, std::min<size_t>(4, s.size() - begin)));
  return u.empty() ? 0 : u.front().cp;
}
size_t cp_len_at(const std::string& s, size_t begin) {
  const auto u = utf8_units(s.substr(begin, std::min<size_t>(4, s.size() - begin)));
  return u.empty() ? 1 : u.front().end;
}

}  // namespace

std::shared_ptr<BpeTokenizer> BpeTokenizer::from_file(const std::string& path) {
  return from_json(read_file_maybe_gzip(path), path);
}

std::shared_ptr<BpeTokenizer> BpeTokenizer::from_json(const std::string& text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    fail(path, std::string("invalid JSON (") + e.what() + ")");
  }
  if (!j.is_object()) fail(path, "a tokenizer.json must be a JSON object");
  try {
    return parse(j, text, path);
  } catch (const json::exception& e) {
    fail(path, std::string("malformed tokenizer.json (") + e.what() + ")");
  }
}

std::shared_ptr<BpeTokenizer> BpeTokenizer::parse(const nlohmann::json& j, const std::string& text, const std::string& path) {
  std::shared_ptr<BpeTokenizer> t(new BpeTokenizer());
  t->path_ = path;
  char fp[32];
  std::snprintf(fp, sizeof fp, "%016llx", static_cast<unsigned long long>(fnv1a(text)));
  t->fingerprint_ = std::string("bpe:") + fp;

  // ---- model -----------------------------------------------------------------------------------
  if (!j.contains("model") || !j["model"].is_object()) fail(path, "no \"model\" object");
  const json& m = j["model"];
  const std::string mtype = type_of(m);
  if (mtype.empty() ? !(m.contains("vocab") && m.contains("merges")) : mtype != "BPE")
    fail(path, "unsupported tokenizer model type \"" + (mtype.empty() ? std::string("(none)") : mtype) +
                   "\" (only byte-level BPE is supported)");
  if (m.contains("dropout") && !m["dropout"].is_null() && m["dropout"].get<double>() != 0.0)
    fail(path, "BPE dropout is not supported (model.dropout must be null)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (m.contains(key) && !null_or_empty_string(m[key]))
      fail(path, std::string("model.") + key + " is not supported by byte-level BPE (must be null or \"\")");
  if (m.value("byte_fallback", false)) fail(path, "model.byte_fallback is not supported (that is SentencePiece-style BPE, not byte-level)");
  t->ignore_merges_ = m.value("ignore_merges", false);
  if (!m.contains("vocab") || !m["vocab"].is_object()) fail(path, "model.vocab must be an object {token: id}");
  int64_t max_id = -1;
  for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0)
      fail(path, "model.vocab[\"" + it.key() + "\"] must be a non-negative integer id");
    const int64_t id = it.value().get<int64_t>();
    t->vocab_[it.key()] = id;
    max_id = std::max(max_id, id);
  }

  // ---- added tokens ----------------------------------------------------------------------------
  // Ids as tokenizers assigns them when it loads the file: a token already in the model's
  // vocabulary keeps that id; any other gets the next id after the model's vocabulary (or after the
  // largest added id, when that is beyond it). The "id" written in the file is not consulted
  // (tokenizers only warns when it differs), so a file whose ids disagree encodes the same here.
  const int64_t model_size = static_cast<int64_t>(t->vocab_.size());
  int64_t max_added = -1;
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    if (!j["added_tokens"].is_array()) fail(path, "added_tokens must be an array");
    for (const auto& a : j["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a.contains("content") || !a["id"].is_number_integer() || !a["content"].is_string())
        fail(path, "every added token needs an integer \"id\" and a string \"content\"");
      AddedToken tok;
      tok.content = a["content"].get<std::string>();
      if (a["id"].get<int64_t>() < 0 || tok.content.empty())
        fail(path, "added token \"" + tok.content + "\" has a negative id or empty content");
      auto known = t->vocab_.find(tok.content);
      if (known != t->vocab_.end()) {
        tok.id = known->second;
      } else {
        tok.id = max_added < 0 ? model_size : max_added >= model_size ? max_added + 1 : model_size;
      }
      max_added = std::max(max_added, tok.id);
      tok.special = a.value("special", false);
      tok.single_word = a.value("single_word", false);
      tok.lstrip = a.value("lstrip", false);
      tok.rstrip = a.value("rstrip", false);
      tok.normalized = a.value("normalized", !tok.special);  // tokenizers' default
      t->vocab_[tok.content] = tok.id;
      max_id = std::max(max_id, tok.id);
      t->added_.push_back(tok);
    }
  }
  t->vocab_size_ = max_id + 1;
  t->id_to_token_.assign(t->vocab_size_, std::string());
  for (const auto& kv : t->vocab_) t->id_to_token_[kv.second] = kv.first;
  t->is_added_.assign(t->vocab_size_, false);
  t->is_special_.assign(t->vocab_size_, false);
  for (const auto& a : t->added_) (a.normalized ? t->normalized_added_ : t->raw_added_).push_back(&a);
  for (const auto& a : t->added_) {
    t->id_to_token_[a.id] = a.content;
    t->is_added_[a.id] = true;
    t->is_special_[a.id] = a.special;
  }
  if (m.contains("unk_token") && m["unk_token"].is_string()) {
    auto it = t->vocab_.find(m["unk_token"].get<std::string>());
    if (it != t->vocab_.end()) t->unk_id_ = it->second;
  }
  t->byte_id_.assign(256, -1);
  for (int b = 0; b < 256; ++b) {
    auto it = t->vocab_.find(byte_to_unicode(static_cast<unsigned char>(b)));
    if (it != t->vocab_.end()) t->byte_id_[b] = it->second;
  }

  // ---- merges: "a b" strings or ["a", "b"] pairs, rank = position ------------------------------
  if (!m.contains("merges") || !m["merges"].is_array()) fail(path, "model.merges must be an array");
  int64_t rank = 0;
  for (const auto& e : m["merges"]) {
    std::string a, b;
    if (e.is_string()) {
      const std::string s = e.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        fail(path, "merge " + std::to_string(rank) + " \"" + s + "\" is not two tokens separated by one space");
      a = s.substr(0, sp), b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get<std::string>(), b = e[1].get<std::string>();
    } else {
      fail(path, "merge " + std::to_string(rank) + " must be \"a b\" or [\"a\", \"b\"]");
    }
    auto ia = t->vocab_.find(a), ib = t->vocab_.find(b), im = t->vocab_.find(a + b);
    if (ia == t->vocab_.end() || ib == t->vocab_.end())
      fail(path, "merge " + std::to_string(rank) + " uses token \"" + (ia == t->vocab_.end() ? a : b) + "\" that is not in the vocabulary");
    if (im == t->vocab_.end()) fail(path, "merge " + std::to_string(rank) + " makes \"" + a + b + "\" that is not in the vocabulary");
    const uint64_t key = (static_cast<uint64_t>(ia->second) << 32) | static_cast<uint64_t>(ib->second);
    t->merges_[key] = {rank, im->second};  // a repeated pair takes its later rank, as tokenizers does
    ++rank;
  }

  // ---- normalizer, pre-tokenizer, post-processor, decoder ---------------------------------------
  auto check_normalizer = [&](const json& n, auto& self) -> void {
    const std::string nt = type_of(n);
    if (nt == "NFC") {
      t->nfc_ = true;
    } else if (nt == "Sequence" && n.contains("normalizers") && n["normalizers"].is_array()) {
      for (const auto& x : n["normalizers"]) self(x, self);
    } else {
      fail(path, "unsupported normalizer type \"" + (nt.empty() ? n.dump() : nt) + "\" (supported: none, NFC)");
    }
  };
  if (j.contains("normalizer") && !j["normalizer"].is_null()) check_normalizer(j["normalizer"], check_normalizer);

  json pre = j.contains("pre_tokenizer") ? j["pre_tokenizer"] : json();
  if (type_of(pre) == "Sequence" && pre.contains("pretokenizers") && pre["pretokenizers"].is_array() && pre["pretokenizers"].size() == 1)
    pre = pre["pretokenizers"][0];
  if (type_of(pre) != "ByteLevel")
    fail(path, "unsupported pre_tokenizer \"" + (pre.is_null() ? std::string("null") : type_of(pre).empty() ? pre.dump() : type_of(pre)) +
                   "\" (only ByteLevel is supported)");
  t->add_prefix_space_ = pre.value("add_prefix_space", false);
  t->use_regex_ = pre.value("use_regex", true);

  if (j.contains("post_processor") && !j["post_processor"].is_null() && type_of(j["post_processor"]) != "ByteLevel")
    fail(path, "unsupported post_processor type \"" + type_of(j["post_processor"]) + "\" (supported: none, ByteLevel)");
  if (j.contains("decoder") && !j["decoder"].is_null() && type_of(j["decoder"]) != "ByteLevel")
    fail(path, "unsupported decoder type \"" + type_of(j["decoder"]) + "\" (supported: none, ByteLevel)");
  return t;
}

int64_t BpeTokenizer::token_to_id(const std::string& token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string& BpeTokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= vocab_size_)
    throw std::out_of_range("BpeTokenizer: id " + std::to_string(id) + " out of range for a vocabulary of " + std::to_string(vocab_size_));
  return id_to_token_[id];
}

// BPE over one pre-tokenized word: start from one symbol per byte, then repeatedly merge the
// adjacent pair with the lowest rank (leftmost first among equal ranks) until none is left.
void BpeTokenizer::encode_word(const std::string& word, std::vector<int64_t>& out) const {
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int64_t> ids;
  if (ignore_merges_) {
    std::string mapped;
    for (unsigned char c : word) mapped += byte_to_unicode(c);
    auto it = vocab_.find(mapped);
    if (it != vocab_.end()) ids.push_back(it->second);
  }
  if (ids.empty()) {
    const int n = static_cast<int>(word.size());
    std::vector<int64_t> id(n);
    std::vector<int> prev(n), next(n);
    for (int i = 0; i < n; ++i) {
      const unsigned char c = static_cast<unsigned char>(word[i]);
      id[i] = byte_id_[c] >= 0 ? byte_id_[c] : unk_id_;
      if (id[i] < 0) {
        char b[8];
        std::snprintf(b, sizeof b, "0x%02x", c);
        fail(path_, std::string("the vocabulary has no token for byte ") + b + " and no unk_token");
      }
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    using Cand = std::tuple<int64_t, int, int64_t, int64_t>;  // rank, position, left id, right id
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
    auto push = [&](int pos) {
      if (pos < 0 || next[pos] < 0) return;
      auto it = merges_.find((static_cast<uint64_t>(id[pos]) << 32) | static_cast<uint64_t>(id[next[pos]]));
      if (it != merges_.end()) heap.emplace(it->second.rank, pos, id[pos], id[next[pos]]);
    };
    for (int i = 0; i + 1 < n; ++i) push(i);
    std::vector<bool> alive(n, true);
    while (!heap.empty()) {
      const auto [rank, pos, left, right] = heap.top();
      heap.pop();
      (void)rank;
      if (!alive[pos] || next[pos] < 0 || id[pos] != left || id[next[pos]] != right) continue;  // stale
      const int nb = next[pos];
      id[pos] = merges_.at((static_cast<uint64_t>(left) << 32) | static_cast<uint64_t>(right)).merged;
      alive[nb] = false;
      next[pos] = next[nb];
      if (next[pos] >= 0) prev[next[pos]] = pos;
      push(prev[pos]);
      push(pos);
    }
    for (int i = 0; i >= 0 && i < n; i = next[i]) ids.push_back(id[i]);
  }
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (cache_.size() > 200000) cache_.clear();
  cache_.emplace(word, std::move(ids));
}

void BpeTokenizer::encode_normalized(const std::string& segment, std::vector<int64_t>& out) const {
  if (segment.empty()) return;
  std::string text = segment;
  if (add_prefix_space_ && text[0] != ' ') text.insert(text.begin(), ' ');
  if (!use_regex_) {
    encode_word(text, out);
    return;
  }
  for (const auto& [b, e] : byte_level_split(text)) encode_word(text.substr(b, e - b), out);
}

std::vector<BpeTokenizer::Span> BpeTokenizer::split_added(const std::string& text, const std::vector<const AddedToken*>& tokens) {
  std::vector<Span> spans;
  bool first_byte[256] = {};
  for (const AddedToken* a : tokens) first_byte[static_cast<unsigned char>(a->content[0])] = true;
  // The literal matches come as tokenizers' Aho-Corasick automaton gives them (leftmost, longest at
  // that position, the search going on after its end); then each is checked and widened the way
  // tokenizers does it, including its quirks: a single_word match that fails is dropped (the text
  // stays ordinary), lstrip stops at the previous match, rstrip does not, and a match that rstrip
  // already swallowed is still emitted.
  size_t offset = 0, p = 0;
  while (!tokens.empty() && p < text.size()) {
    if (!first_byte[static_cast<unsigned char>(text[p])]) {
      ++p;
      continue;
    }
    const AddedToken* best = nullptr;
    for (const AddedToken* a : tokens)
      if ((!best || a->content.size() > best->content.size()) && text.compare(p, a->content.size(), a->content) == 0) best = a;
    if (!best) {
      ++p;
      continue;
    }
    size_t start = p, stop = p + best->content.size();
    p = stop;
    if (best->single_word && (is_word_char(cp_before(text, start)) || is_word_char(cp_at(text, stop)))) continue;
    if (best->lstrip) {
      while (start > 0 && is_whitespace(cp_before(text, start))) {
        size_t b = start - 1;
        while (b > 0 && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) --b;
        start = b;
      }
      start = std::max(start, offset);
    }
    if (best->rstrip)
      while (stop < text.size() && is_whitespace(cp_at(text, stop))) stop += cp_len_at(text, stop);
    if (offset < start) spans.push_back({offset, start, -1});
    spans.push_back({start, stop, best->id});
    offset = stop;
  }
  if (offset != text.size()) spans.push_back({offset, text.size(), -1});
  return spans;
}

// As tokenizers does: added tokens with normalized = false are cut out of the raw text first; each
// stretch between them is normalized (NFC), then the normalized = true ones are cut out of it; what
// is left goes through the pre-tokenizer and BPE.
std::vector<int64_t> BpeTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> out;
  out.reserve(text.size() / 3 + 1);
  for (const Span& raw : split_added(text, raw_added_)) {
    if (raw.id >= 0) {
      out.push_back(raw.id);
      continue;
    }
    const std::string piece = text.substr(raw.begin, raw.end - raw.begin);
    const std::string norm = nfc_ ? nfc(piece) : piece;
    for (const Span& s : split_added(norm, normalized_added_)) {
      if (s.id >= 0) {
        out.push_back(s.id);
      } else {
        encode_normalized(norm.substr(s.begin, s.end - s.begin), out);
      }
    }
  }
  return out;
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  std::string out;
  for (int64_t id : ids) {
    const std::string& tok = id_to_token(id);
    if (is_added_[id]) {
      if (!(skip_special && is_special_[id])) out += tok;
      continue;
    }
    // Map each character back to its byte; a token with a character outside the map is kept as
    // its UTF-8 text (what the tokenizers ByteLevel decoder does).
    std::string bytes;
    bool ok = true;
    for (const auto& u : utf8_units(tok)) {
      const int b = u.valid ? unicode_to_byte(u.cp) : -1;
      if (b < 0) {
        ok = false;
        break;
      }
      bytes += static_cast<char>(b);
    }
    out += ok ? bytes : tok;
  }
  return out;
}

std::string byte_level_tokenizer_json(const std::vector<std::string>& special_tokens) {
  using ojson = nlohmann::ordered_json;
  ojson vocab = ojson::object();
  for (int b = 0; b < 256; ++b) vocab[byte_to_unicode(static_cast<unsigned char>(b))] = b;
  ojson added = ojson::array();
  int64_t id = 256;
  for (const auto& s : special_tokens) {
    if (s.empty()) throw std::invalid_argument("byte_level_tokenizer_json: empty special token");
    added.push_back(ojson{{"id", id++}, {"content", s}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                          {"normalized", false}, {"special", true}});
  }
  const ojson byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  ojson j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = added;
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = byte_level;
  j["post_processor"] = byte_level;
  j["decoder"] = byte_level;
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"vocab", vocab},
                {"merges", ojson::array()}};
  return j.dump(2) + "\n";
}

void write_byte_level_tokenizer_json(const std::string& path, const std::vector<std::string>& special_tokens) {
  write_file_atomic(path, byte_level_tokenizer_json(special_tokens));
}

// ---- ByteTokenizer and load_tokenizer ----------------------------------------------------------

std::vector<int64_t> ByteTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
  return ids;
}

std::string ByteTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string s(ids.size(), '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] > 255)
      throw std::out_of_range("ByteTokenizer::decode: id " + std::to_string(ids[i]) + " out of range for a vocabulary of 256");
    s[i] = static_cast<char>(ids[i]);
  }
  return s;
}

int64_t ByteTokenizer::token_to_id(const std::string& token) const {
  return token.size() == 1 ? static_cast<unsigned char>(token[0]) : -1;
}

std::shared_ptr<Tokenizer> load_tokenizer(const std::string& name_or_path) {
  if (name_or_path == "bytes" || name_or_path == "byte") return std::make_shared<ByteTokenizer>();
  return BpeTokenizer::from_file(name_or_path);
}

}  // namespace datasets
