// errors.cpp: DataError's one-line messages ("path: what", "path:line: what").
#include "datasets/errors.h"

namespace datasets {
namespace {
// Keeps the message on one line: newlines inside `what` (from quoted input) become spaces.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}
}  // namespace

DataError::DataError(const std::string& path, const std::string& what)
    : std::runtime_error(one_line(path + ": " + what)), path_(path) {}

DataError::DataError(const std::string& path, int64_t line, const std::string& what)
    : std::runtime_error(one_line(path + ":" + std::to_string(line) + ": " + what)), path_(path), line_(line) {}

void fail(const std::string& path, const std::string& what) { throw DataError(path, what); }
void fail_at(const std::string& path, int64_t line, const std::string& what) { throw DataError(path, line, what); }

void check_index(const char* what, int64_t index, int64_t size) {
  if (index < 0 || index >= size)
    throw std::out_of_range(std::string(what) + ": index " + std::to_string(index) + " out of range for " + std::to_string(size) +
                            " examples");
}

}  // namespace datasets
