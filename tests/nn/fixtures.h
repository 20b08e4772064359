// fixtures.h: access to the PyTorch reference files of the nn tests (tests/data/nn_*.safetensors,
// written by tests/reference/make_nn_fixtures.py): tensors by name, and each case's options (JSON
// in the file's metadata).
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/test_util.h"
#include "nn/safetensors.h"

namespace nn_test {

class Fixture {
 public:
  explicit Fixture(const std::string& file) : file_(pm_test::data_path(file)) {}
  tensor::Tensor operator[](const std::string& name) const { return file_.load(name); }
  bool contains(const std::string& name) const { return file_.contains(name); }
  nlohmann::json options(const std::string& c) const { return nlohmann::json::parse(file_.metadata().at(c)); }

 private:
  nn::SafetensorsFile file_;
};

inline const Fixture& layers() {
  static Fixture f("nn_layers.safetensors");
  return f;
}
inline const Fixture& optim() {
  static Fixture f("nn_optim.safetensors");
  return f;
}

}  // namespace nn_test
