// file_io.h: whole-file reading (with transparent gzip through zlib), atomic writing, directory
// listing and the FNV-1a hash the caches use to recognise their sources.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace datasets {

// The file's bytes. Throws DataError "path: cannot open (reason)".
std::string read_file(const std::string& path);
// The file's bytes, gunzipped when they start with the gzip magic (1f 8b); several concatenated
// gzip members are read one after another. A truncated or corrupt stream is a DataError naming the
// file.
std::string read_file_maybe_gzip(const std::string& path);
// Decompresses gzip bytes that came from `path` (named in errors).
std::string gunzip(const std::string& bytes, const std::string& path);
bool is_gzip(const std::string& bytes);
// Writes `bytes` to a temporary file beside `path`, then renames it over `path`, so a reader never
// sees half a file. Creates missing parent folders.
void write_file_atomic(const std::string& path, const std::string& bytes);

bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
// Entries of a folder (names only, no "." or ".."), sorted byte-wise. Throws DataError when the
// folder cannot be read.
std::vector<std::string> list_dir(const std::string& dir);
std::string join_path(const std::string& a, const std::string& b);

// 64-bit FNV-1a, chainable: fnv1a(b, fnv1a(a)) hashes a then b.
constexpr uint64_t kFnvOffset = 14695981039346656037ull;  // 0xcbf29ce484222325
uint64_t fnv1a(const void* data, size_t n, uint64_t h = kFnvOffset);
inline uint64_t fnv1a(const std::string& s, uint64_t h = kFnvOffset) { return fnv1a(s.data(), s.size(), h); }

}  // namespace datasets
