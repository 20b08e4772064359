// reference_test.cpp: our autograd forward outputs and input gradients against PyTorch's, read from
// tests/data/core_ops.safetensors (made by tests/reference/make_core_fixtures.py, which documents
// every key). Each case runs in float64 (contiguous and non-contiguous inputs, tight tolerance) and in
// float32 (looser tolerance, still against the float64 reference).
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "autograd/ops.h"
#include "common/test_util.h"
#include "nn/safetensors.h"

namespace {

using autograd::Variable;
using tensor::DType;
using tensor::Tensor;
using json = nlohmann::json;

const nn::SafetensorsFile& fixture() {
  static const nn::SafetensorsFile f(pm_test::data_path("core_ops.safetensors"));
  return f;
}

// The JSON options stored in the metadata under the case's prefix.
json options(const std::string& prefix) { return json::parse(fixture().metadata().at(prefix)); }

// The same values under a layout with no unit stride (every element two slots apart).
Tensor spread(const Tensor& t) {
  tensor::Shape s = t.shape();
  s.push_back(2);
  Tensor buf = tensor::zeros(s, t.dtype());
  Tensor v = buf.select(-1, 0);
  v.copy_(t);
  return v;
}

struct Mode {
  const char* name;
  DType dtype;
  bool noncontiguous;
  double rtol, atol;
};
const Mode kModes[] = {
    {"float64", DType::Float64, false, 1e-10, 1e-12},
    {"float64 non-contiguous", DType::Float64, true, 1e-10, 1e-12},
    {"float32", DType::Float32, false, 2e-4, 2e-5},
};

using Fn = std::function<Variable(const std::vector<Variable>&)>;

// Loads "<prefix>.<input>" for each differentiable input, runs fn, back-propagates
// "<prefix>.grad_out" and compares "out" and every "grad_<input>" with the reference.
void check_case(const std::string& prefix, const std::vector<std::string>& inputs, const Fn& fn) {
  const auto& f = fixture();
  auto ref = [&](const std::string& key) { return f.load(prefix + "." + key); };
  for (const Mode& m : kModes) {
    SCOPED_TRACE(prefix + " (" + m.name + ")");
    std::vector<Variable> vars;
    for (const auto& name : inputs) {
      Tensor t = ref(name).to(m.dtype);
      if (m.noncontiguous) t = spread(t);
      vars.emplace_back(t, true);
    }
    Variable out = fn(vars);
    ASSERT_EQ(out.dtype(), m.dtype);
    EXPECT_TRUE(pm_test::tensors_close(out.data(), ref("out"), m.rtol, m.atol)) << "forward";
    Tensor g = ref("grad_out").to(m.dtype);
    out.backward(m.noncontiguous ? spread(g) : g);
    for (size_t i = 0; i < inputs.size(); ++i) {
      ASSERT_TRUE(vars[i].grad().defined()) << "no gradient for " << inputs[i];
      EXPECT_TRUE(pm_test::tensors_close(vars[i].grad(), ref("grad_" + inputs[i]), m.rtol, m.atol))
          << "gradient of " << inputs[i];
    }
  }
}

// The cases this file checks; a case added to the fixture script without a check here is reported.
const std::set<std::string> kCases = {
    "matmul.bcast",      "matmul.mat",       "matmul.vec",       "cross_entropy.smooth", "cross_entropy.ignore",
    "conv2d.bias",       "conv2d.nobias",    "rms_norm.weight",  "rms_norm.noweight",    "layer_norm.affine",
    "layer_norm.3d",     "softmax.dim1",     "softmax.last",     "log_softmax.last",     "log_softmax.dim0",
};
void check(const std::string& prefix, const std::vector<std::string>& inputs, const Fn& fn) {
  ASSERT_TRUE(kCases.count(prefix)) << prefix << " is missing from kCases";
  check_case(prefix, inputs, fn);
}

TEST(Reference, Matmul) {
  for (const char* c : {"matmul.bcast", "matmul.mat", "matmul.vec"})
    check(c, {"a", "b"}, [](const std::vector<Variable>& v) { return autograd::matmul(v[0], v[1]); });
}

TEST(Reference, CrossEntropy) {
  for (const char* c : {"cross_entropy.smooth", "cross_entropy.ignore"}) {
    json o = options(c);
    tensor::CrossEntropyOptions opt;
    opt.ignore_index = o.at("ignore_index").get<int64_t>();
    opt.label_smoothing = o.at("label_smoothing").get<double>();
    Tensor target = fixture().load(std::string(c) + ".target");
    ASSERT_EQ(target.dtype(), DType::Int64);
    check(c, {"x"}, [&](const std::vector<Variable>& v) { return autograd::cross_entropy(v[0], target, opt); });
  }
}

TEST(Reference, Conv2d) {
  for (const char* c : {"conv2d.bias", "conv2d.nobias"}) {
    json o = options(c);
    tensor::Conv2dParams p;
    p.stride_h = o.at("stride")[0].get<int64_t>();
    p.stride_w = o.at("stride")[1].get<int64_t>();
    p.pad_h = o.at("padding")[0].get<int64_t>();
    p.pad_w = o.at("padding")[1].get<int64_t>();
    bool has_bias = fixture().contains(std::string(c) + ".bias");
    std::vector<std::string> inputs = {"x", "w"};
    if (has_bias) inputs.push_back("bias");
    check(c, inputs, [&](const std::vector<Variable>& v) {
      return autograd::conv2d(v[0], v[1], has_bias ? v[2] : Variable(), p);
    });
  }
}

TEST(Reference, RmsNorm) {
  double eps = options("rms_norm.weight").at("eps").get<double>();
  check("rms_norm.weight", {"x", "weight"},
        [&](const std::vector<Variable>& v) { return autograd::rms_norm(v[0], v[1], eps); });
  double eps2 = options("rms_norm.noweight").at("eps").get<double>();
  check("rms_norm.noweight", {"x"},
        [&](const std::vector<Variable>& v) { return autograd::rms_norm(v[0], Variable(), eps2); });
}

TEST(Reference, LayerNorm) {
  for (const char* c : {"layer_norm.affine", "layer_norm.3d"}) {
    double eps = options(c).at("eps").get<double>();
    check(c, {"x", "weight", "bias"},
          [&](const std::vector<Variable>& v) { return autograd::layer_norm(v[0], v[1], v[2], eps); });
  }
}

TEST(Reference, SoftmaxAndLogSoftmax) {
  for (const char* c : {"softmax.dim1", "softmax.last"}) {
    int64_t dim = options(c).at("dim").get<int64_t>();
    check(c, {"x"}, [&](const std::vector<Variable>& v) { return autograd::softmax(v[0], dim); });
  }
  for (const char* c : {"log_softmax.last", "log_softmax.dim0"}) {
    int64_t dim = options(c).at("dim").get<int64_t>();
    check(c, {"x"}, [&](const std::vector<Variable>& v) { return autograd::log_softmax(v[0], dim); });
  }
}

TEST(Reference, EveryFixtureCaseIsChecked) {
  const std::set<std::string> not_cases = {"format", "source", "torch"};
  std::set<std::string> in_file;
  for (const auto& kv : fixture().metadata())
    if (!not_cases.count(kv.first)) in_file.insert(kv.first);
  for (const auto& c : in_file) EXPECT_TRUE(kCases.count(c)) << "fixture case '" << c << "' has no check here";
  for (const auto& c : kCases) EXPECT_TRUE(in_file.count(c)) << "case '" << c << "' is not in the fixture";
}

}  // namespace
