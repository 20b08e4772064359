// tokenizer.h: the Tokenizer interface (text <-> token ids) and ByteTokenizer, the 256-id tokenizer
// of byte-level LMs (id = byte value). encode/decode are const and safe to call from several
// threads at once.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace datasets {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::vector<int64_t> encode(const std::string& text) const = 0;
  // The bytes the ids stand for. Ids outside the vocabulary throw std::out_of_range.
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  // The id of a token given by its text (a special token such as "<|endoftext|>"), or -1.
  virtual int64_t token_to_id(const std::string& token) const = 0;
  // Identifies the tokenizer's behaviour (what a token cache must match): same fingerprint, same ids.
  virtual std::string fingerprint() const = 0;
};

class ByteTokenizer final : public Tokenizer {
 public:
  std::vector<int64_t> encode(const std::string& text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override { return 256; }
  int64_t token_to_id(const std::string& token) const override;  // a one-byte string -> its value
  std::string fingerprint() const override { return "bytes"; }
};

// A tokenizer by name: "bytes", or a path to a tokenizer.json (.json or .json.gz).
std::shared_ptr<Tokenizer> load_tokenizer(const std::string& name_or_path);

}  // namespace datasets
