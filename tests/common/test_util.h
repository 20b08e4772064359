// test_util.h: helpers shared by the test suites: fixture paths, tensor comparison with
// absolute + relative tolerance (reporting the worst element), and small tensor builders.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/ops.h"

namespace pm_test {

inline std::string data_path(const std::string& name) { return std::string(PM_TEST_DATA_DIR) + "/" + name; }

// Passes when |a - b| <= atol + rtol * |b| everywhere; otherwise names the worst element.
inline ::testing::AssertionResult tensors_close(const tensor::Tensor& a, const tensor::Tensor& b, double rtol = 1e-5,
                                                double atol = 1e-6) {
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shapes differ: " << tensor::shape_str(a.shape()) << " vs "
                                         << tensor::shape_str(b.shape());
  auto va = a.to_vector(), vb = b.to_vector();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    double diff = std::fabs(va[i] - vb[i]);
    double r = diff == 0 ? 0 : diff / (atol + rtol * std::fabs(vb[i]));
    if (std::isnan(r) || r > worst) {
      worst = std::isnan(r) ? INFINITY : r;
      at = i;
    }
  }
  if (worst <= 1.0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "element " << at << ": " << va[at] << " vs " << vb[at] << " (shape "
                                       << tensor::shape_str(a.shape()) << ")";
}

// Runs `f` and checks it throws a std::exception whose message contains every one of `parts`.
template <typename F> ::testing::AssertionResult throws_with(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const std::exception& e) {
    std::string msg = e.what();
    for (const auto& p : parts)
      if (msg.find(p) == std::string::npos)
        return ::testing::AssertionFailure() << "message '" << msg << "' lacks '" << p << "'";
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no exception thrown";
}

}  // namespace pm_test
