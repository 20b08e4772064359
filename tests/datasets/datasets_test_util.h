// datasets_test_util.h: what the datasets tests share: a temporary folder removed on exit, file
// writing, the committed fixtures' folder, and skipping when an installed data set is absent.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/test_util.h"
#include "datasets/file_io.h"

namespace pm_test {

inline std::string fixture(const std::string& name) { return data_path("datasets/" + name); }

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pm_datasets_XXXXXX").string();
    if (!mkdtemp(&tmpl[0])) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

inline void write_text(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

inline void copy_file(const std::string& from, const std::string& to) { write_text(to, datasets::read_file(from)); }

}  // namespace pm_test

// Skips the test (with the reason) when an installed data set is not there.
#define PM_REQUIRE_PATH(p)                                                                         \
  do {                                                                                             \
    if (!datasets::path_exists(p)) GTEST_SKIP() << (p) << " is not installed (scripts/get-data.sh)"; \
  } while (0)
