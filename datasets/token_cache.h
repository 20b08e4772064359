// token_cache.h: a text corpus tokenized once and kept in a binary cache file. Layout (little-
// endian): a 64-byte header
//   0  "PMTOKENS"   8  u32 version (1)   12 u32 bytes per token (2 or 4)   16 u64 token count
//   24 u64 vocabulary size   32 u64 source hash   40 u64 payload hash   48 16 zero bytes
// then the tokens. The source hash covers the tokenizer's fingerprint, the separator and every
// source file's bytes, so a cache is reused exactly when it would come out the same; the payload
// hash (FNV-1a) catches a damaged file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/tokenizer.h"

namespace datasets {

struct TokenCacheInfo {
  uint32_t token_bytes = 0;
  uint64_t num_tokens = 0, vocab_size = 0, source_hash = 0;
};

// Reads and validates a cache; a wrong magic, version or token width, a size that does not match
// the header, a payload checksum mismatch or a token >= vocab size is a DataError naming the file.
std::vector<int32_t> read_token_cache(const std::string& path, TokenCacheInfo* info = nullptr);
// Writes a cache atomically (2-byte tokens when vocab_size <= 65536, else 4).
void write_token_cache(const std::string& path, const std::vector<int32_t>& tokens, uint64_t vocab_size, uint64_t source_hash);

// The hash a cache of `files` tokenized by `tok` with `separator` between documents carries.
uint64_t corpus_source_hash(const std::vector<std::string>& files, const Tokenizer& tok, const std::vector<int64_t>& separator);

// The token stream of `files` (each read whole, gunzipped if needed, tokenized separately, with
// `separator` ids after each file, e.g. {eos}). With a non-empty cache_path: returns the cached
// stream when the cache matches (sets *from_cache), else tokenizes and writes the cache. A damaged
// cache is an error (it is never overwritten silently; delete it to rebuild).
std::vector<int32_t> tokenize_corpus(const std::vector<std::string>& files, const Tokenizer& tok, const std::string& cache_path = "",
                                     const std::vector<int64_t>& separator = {}, bool* from_cache = nullptr);

}  // namespace datasets
