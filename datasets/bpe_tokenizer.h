// bpe_tokenizer.h: BpeTokenizer, a Hugging Face tokenizer.json of the byte-level BPE family
// (GPT-2, GPT-NeoX / Pythia / Mamba, RoBERTa-style): normalizer none or NFC, pre-tokenizer
// ByteLevel (its GPT-2 split pattern and byte -> character map), model BPE (merges applied by rank,
// lowest first, leftmost first among equals, as tokenizers does), added tokens (special or not,
// matched leftmost-longest with lstrip / rstrip / single_word: those with normalized = false on the
// raw text, then the normalized = true ones on the NFC text between them, as tokenizers does), decoder
// ByteLevel. Any other model, normalizer or pre-tokenizer type is refused with a one-line
// DataError naming the file, rather than tokenized differently.
//
// Also writes the tokenizer.json of our own byte-level LMs: 256 byte tokens (id = byte value), no
// merges, in a form HF tokenizers loads.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "datasets/tokenizer.h"

namespace datasets {

struct AddedToken {
  int64_t id = -1;
  std::string content;
  bool special = false;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false;
};

class BpeTokenizer final : public Tokenizer {
 public:
  // Reads a tokenizer.json (or tokenizer.json.gz).
  static std::shared_ptr<BpeTokenizer> from_file(const std::string& path);
  // Parses tokenizer.json text; `path` names it in errors.
  static std::shared_ptr<BpeTokenizer> from_json(const std::string& json_text, const std::string& path);

  std::vector<int64_t> encode(const std::string& text) const override;
  // Ordinary tokens map back through the byte map; added tokens give their content. With
  // skip_special, special added tokens are dropped. Bytes come back as they are (no lossy UTF-8
  // repair), so decode(encode(s)) == s for every byte string s when there is no normalizer.
  std::string decode(const std::vector<int64_t>& ids) const override { return decode(ids, false); }
  std::string decode(const std::vector<int64_t>& ids, bool skip_special) const;
  int64_t vocab_size() const override { return vocab_size_; }
  int64_t token_to_id(const std::string& token) const override;
  std::string fingerprint() const override { return fingerprint_; }

  // The text of token `id` (in the byte-mapped alphabet for ordinary tokens).
  const std::string& id_to_token(int64_t id) const;
  const std::vector<AddedToken>& added_tokens() const { return added_; }
  int64_t num_merges() const { return static_cast<int64_t>(merges_.size()); }
  bool uses_nfc() const { return nfc_; }

 private:
  BpeTokenizer() = default;
  static std::shared_ptr<BpeTokenizer> parse(const nlohmann::json& j, const std::string& text, const std::string& path);
  // A stretch [begin, end) of text: an added token (id >= 0) or text between them (id -1).
  struct Span {
    size_t begin, end;
    int64_t id;
  };
  // Cuts `text` at `tokens`: the leftmost match, the longest among those starting there, honouring
  // single_word / lstrip / rstrip.
  static std::vector<Span> split_added(const std::string& text, const std::vector<const AddedToken*>& tokens);
  void encode_word(const std::string& word_bytes, std::vector<int64_t>& out) const;
  // Pre-tokenizer and BPE over text that is already normalized and free of added tokens.
  void encode_normalized(const std::string& text, std::vector<int64_t>& out) const;

  std::string path_, fingerprint_;
  std::unordered_map<std::string, int64_t> vocab_;  // token text -> id (ordinary and added)
  std::vector<std::string> id_to_token_;
  int64_t vocab_size_ = 0;
  std::vector<int64_t> byte_id_;                    // byte value -> id of its one-character token (-1: none)
  struct MergeInfo {
    int64_t rank, merged;
  };
  std::unordered_map<uint64_t, MergeInfo> merges_;  // (left id << 32 | right id) -> rank, result
  std::vector<AddedToken> added_;
  std::vector<const AddedToken*> raw_added_, normalized_added_;  // matched before / after normalization (into added_)
  std::vector<bool> is_added_, is_special_;
  bool nfc_ = false, add_prefix_space_ = false, use_regex_ = true, ignore_merges_ = false;
  int64_t unk_id_ = -1;

  // Words seen before -> their ids (bounded; guarded for concurrent encode calls).
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache_;
};

// Writes the tokenizer.json of a byte-level LM: vocabulary = the 256 byte characters with
// id = byte value, no merges, ByteLevel pre-tokenizer and decoder; `special_tokens` (e.g.
// {"<|endoftext|>"}) get ids 256, 257, ... as special added tokens.
void write_byte_level_tokenizer_json(const std::string& path, const std::vector<std::string>& special_tokens = {});
// The same file as text.
std::string byte_level_tokenizer_json(const std::vector<std::string>& special_tokens = {});

}  // namespace datasets
