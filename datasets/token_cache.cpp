// token_cache.cpp: the token cache format (see token_cache.h) and corpus tokenization.
#include "datasets/token_cache.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "datasets/errors.h"
#include "datasets/file_io.h"

namespace datasets {
namespace {

constexpr char kMagic[8] = {'P', 'M', 'T', 'O', 'K', 'E', 'N', 'S'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeader = 64;

void put32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put64(std::string& s, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
uint64_t get(const std::string& s, size_t at, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}

}  // namespace

std::vector<int32_t> read_token_cache(const std::string& path, TokenCacheInfo* info) {
  const std::string b = read_file(path);
  if (std::memcmp(b.data(), kMagic, std::min<size_t>(8, b.size())) != 0 || b.empty())
    fail(path, "not a token cache (bad magic; expected \"PMTOKENS\")");
  if (b.size() < kHeader) fail(path, "truncated token cache (" + std::to_string(b.size()) + " bytes; the header alone is 64)");
  const uint32_t version = static_cast<uint32_t>(get(b, 8, 4)), tb = static_cast<uint32_t>(get(b, 12, 4));
  if (version != kVersion) fail(path, "token cache version " + std::to_string(version) + " is not supported (expected 1)");
  if (tb != 2 && tb != 4) fail(path, "token cache stores " + std::to_string(tb) + "-byte tokens (expected 2 or 4)");
  TokenCacheInfo h;
  h.token_bytes = tb;
  h.num_tokens = get(b, 16, 8);
  h.vocab_size = get(b, 24, 8);
  h.source_hash = get(b, 32, 8);
  const uint64_t payload_hash = get(b, 40, 8);
  const uint64_t have = b.size() - kHeader;
  if (h.num_tokens > have / tb || h.num_tokens * tb != have)
    fail(path, "token cache size mismatch: header says " + std::to_string(h.num_tokens) + " tokens x " + std::to_string(tb) +
                   " bytes, the file has " + std::to_string(have) + " payload bytes (truncated?)");
  if (fnv1a(b.data() + kHeader, have) != payload_hash) fail(path, "corrupt token cache (payload checksum mismatch)");
  std::vector<int32_t> tokens(h.num_tokens);
  for (uint64_t i = 0; i < h.num_tokens; ++i) {
    const uint64_t v = get(b, kHeader + i * tb, static_cast<int>(tb));
    if (v >= h.vocab_size)
      fail(path, "corrupt token cache: token " + std::to_string(i) + " is " + std::to_string(v) + ", vocabulary size " +
                     std::to_string(h.vocab_size));
    tokens[i] = static_cast<int32_t>(v);
  }
  if (info) *info = h;
  return tokens;
}

void write_token_cache(const std::string& path, const std::vector<int32_t>& tokens, uint64_t vocab_size, uint64_t source_hash) {
  const uint32_t tb = vocab_size <= 65536 ? 2 : 4;
  std::string b(kHeader + tokens.size() * tb, '\0');
  std::memcpy(&b[0], kMagic, 8);
  put32(b, 8, kVersion);
  put32(b, 12, tb);
  put64(b, 16, tokens.size());
  put64(b, 24, vocab_size);
  put64(b, 32, source_hash);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || static_cast<uint64_t>(tokens[i]) >= vocab_size)
      throw std::invalid_argument("write_token_cache: token " + std::to_string(tokens[i]) + " at " + std::to_string(i) +
                                  " is outside the vocabulary of " + std::to_string(vocab_size));
    const uint32_t v = static_cast<uint32_t>(tokens[i]);
    for (uint32_t k = 0; k < tb; ++k) b[kHeader + i * tb + k] = static_cast<char>((v >> (8 * k)) & 0xFF);
  }
  put64(b, 40, fnv1a(b.data() + kHeader, b.size() - kHeader));
  write_file_atomic(path, b);
}

namespace {
uint64_t hash_prefix(const Tokenizer& tok, const std::vector<int64_t>& separator, size_t num_files) {
  uint64_t h = fnv1a(tok.fingerprint());
  h = fnv1a(separator.data(), separator.size() * sizeof(int64_t), h);
  const uint64_t n = num_files;
  return fnv1a(&n, sizeof n, h);
}
uint64_t hash_file(const std::string& bytes, uint64_t h) {
  const uint64_t size = bytes.size();
  h = fnv1a(&size, sizeof size, h);
  return fnv1a(bytes, h);
}
}  // namespace

uint64_t corpus_source_hash(const std::vector<std::string>& files, const Tokenizer& tok, const std::vector<int64_t>& separator) {
  uint64_t h = hash_prefix(tok, separator, files.size());
  for (const auto& f : files) h = hash_file(read_file_maybe_gzip(f), h);
  return h;
}

std::vector<int32_t> tokenize_corpus(const std::vector<std::string>& files, const Tokenizer& tok, const std::string& cache_path,
                                     const std::vector<int64_t>& separator, bool* from_cache) {
  if (from_cache) *from_cache = false;
  // One pass reads every file: its bytes feed the source hash and, on a miss, the tokenizer.
  std::vector<std::string> contents;
  contents.reserve(files.size());
  uint64_t h = hash_prefix(tok, separator, files.size());
  for (const auto& f : files) {
    contents.push_back(read_file_maybe_gzip(f));
    h = hash_file(contents.back(), h);
  }
  const uint64_t vocab = static_cast<uint64_t>(tok.vocab_size());
  if (!cache_path.empty() && path_exists(cache_path)) {
    TokenCacheInfo info;
    std::vector<int32_t> cached = read_token_cache(cache_path, &info);
    if (info.source_hash == h && info.vocab_size == vocab) {
      if (from_cache) *from_cache = true;
      return cached;
    }
  }
  std::vector<int32_t> tokens;
  for (const auto& text : contents) {
    for (int64_t id : tok.encode(text)) tokens.push_back(static_cast<int32_t>(id));
    for (int64_t id : separator) tokens.push_back(static_cast<int32_t>(id));
  }
  if (!cache_path.empty()) write_token_cache(cache_path, tokens, vocab, h);
  return tokens;
}

}  // namespace datasets
