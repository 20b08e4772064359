// errors.h: DataError, the one exception type for bad input files: its message is one line that
// starts with the file (and line, for line-oriented formats), e.g.
//   "data/train.jsonl:12: missing field \"answer\"".
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace datasets {

class DataError : public std::runtime_error {
 public:
  DataError(const std::string& path, const std::string& what);
  DataError(const std::string& path, int64_t line, const std::string& what);
  const std::string& path() const { return path_; }
  int64_t line() const { return line_; }  // 0 when the error is about the whole file

 private:
  std::string path_;
  int64_t line_ = 0;
};

// Shorthands that throw DataError.
[[noreturn]] void fail(const std::string& path, const std::string& what);
[[noreturn]] void fail_at(const std::string& path, int64_t line, const std::string& what);

// Throws std::out_of_range "<what>: index i out of range for n examples" unless 0 <= index < size.
void check_index(const char* what, int64_t index, int64_t size);

}  // namespace datasets
