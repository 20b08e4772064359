// mamba_test_util.h: helpers shared by the mamba tests: the relative error used against reference
// fixtures (max |a - b| / max |b|, the measure of the tolerances), small model configs, and
// a scratch directory that is removed afterwards.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "mamba/config.h"
#include "tensor/tensor.h"

namespace mamba_test {

// max |a - b| / max |b| (shapes must match; 0 when b is all zeros and a equals it).
inline double rel_err(const tensor::Tensor& a, const tensor::Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return INFINITY;
  auto va = a.to_vector(), vb = b.to_vector();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    diff = std::max(diff, std::fabs(va[i] - vb[i]));
    scale = std::max(scale, std::fabs(vb[i]));
  }
  if (std::isnan(diff)) return INFINITY;
  return scale == 0 ? diff : diff / scale;
}

// A tiny LM: d 16, 2 layers, vocabulary 60 padded to 64, N 8, K 3, R 3.
inline mamba::MambaConfig tiny_lm(int64_t vocab = 60) {
  mamba::MambaConfig c = mamba::mamba_preset("mamba-tiny");
  c.vocab_size = vocab;
  return c;
}

// A scratch directory under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = (std::filesystem::temp_directory_path() / ("pm_mamba_" + tag + "_" + std::to_string(::getpid()))).string();
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }

 private:
  std::string path_;
};

}  // namespace mamba_test
