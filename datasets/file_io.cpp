// file_io.cpp: file reading/writing helpers; gzip through zlib's inflate (gzip header auto-detect).
#include "datasets/file_io.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "datasets/errors.h"

namespace datasets {
namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open (") + std::strerror(errno) + ")");
  std::string bytes;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) fail(path, "cannot read (not a regular file?)");
  bytes.resize(static_cast<size_t>(size));
  in.seekg(0, std::ios::beg);
  if (size > 0 && !in.read(&bytes[0], size)) fail(path, "read error");
  return bytes;
}

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f && static_cast<unsigned char>(bytes[1]) == 0x8b;
}

std::string gunzip(const std::string& bytes, const std::string& path) {
  std::string out;
  size_t pos = 0;
  std::vector<unsigned char> buf(1 << 16);
  while (pos < bytes.size()) {
    z_stream zs;
    std::memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK) fail(path, "zlib: inflateInit2 failed");
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data() + pos));
    zs.avail_in = static_cast<uInt>(bytes.size() - pos);
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      zs.next_out = buf.data();
      zs.avail_out = static_cast<uInt>(buf.size());
      rc = inflate(&zs, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) {
        const bool truncated = rc == Z_BUF_ERROR && zs.avail_in == 0;
        const std::string msg = zs.msg ? zs.msg : "error " + std::to_string(rc);
        inflateEnd(&zs);
        if (truncated) fail(path, "truncated gzip stream (ends after " + std::to_string(out.size() + (buf.size() - zs.avail_out)) + " decompressed bytes)");
        fail(path, "corrupt gzip data (zlib: " + msg + ")");
      }
      out.append(reinterpret_cast<char*>(buf.data()), buf.size() - zs.avail_out);
    }
    pos = bytes.size() - zs.avail_in;
    inflateEnd(&zs);
    // Another member may follow; anything else (zero padding) ends the stream.
    if (!is_gzip(bytes.substr(pos, 2))) break;
  }
  return out;
}

std::string read_file_maybe_gzip(const std::string& path) {
  std::string bytes = read_file(path);
  return is_gzip(bytes) ? gunzip(bytes, path) : bytes;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const fs::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  static std::atomic<unsigned> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(path, std::string("cannot write (") + std::strerror(errno) + ")");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) fail(path, "write error");
  }
  fs::rename(tmp, p, ec);
  if (ec) {
    fs::remove(tmp);
    fail(path, "cannot rename the temporary file into place (" + ec.message() + ")");
  }
}

bool path_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

bool is_directory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) fail(dir, "cannot list folder (" + ec.message() + ")");
  std::vector<std::string> names;
  for (const auto& e : it) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string join_path(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  return a.back() == '/' ? a + b : a + "/" + b;
}

uint64_t fnv1a(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace datasets
