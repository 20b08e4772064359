// parity_test.cpp: every registered op case (autograd::op_cases(), the gradcheck registry) run on
// the CPU and on the GPU with the same inputs and the same upstream gradient; outputs and input
// gradients must agree within abs + rel tolerances. Each case runs in float64 and float32 (float
// inputs converted), with contiguous and with non-contiguous inputs (autograd::noncontiguous_copy
// on each device). One test per case; an op without CUDA kernels fails here, naming itself.
#include <gtest/gtest.h>

#include <cctype>

#include "autograd/op_cases.h"
#include "cuda/gpu_test_util.h"

namespace {
using autograd::OpCase;
using autograd::Variable;
using tensor::Device;
using tensor::DType;
using tensor::Tensor;

struct Variant {
  DType dtype;
  bool noncontiguous;
  double rtol, atol;
  std::string name() const {
    return std::string(tensor::dtype_name(dtype)) + (noncontiguous ? ", non-contiguous" : ", contiguous");
  }
};

// float64 agrees to rounding; float32 to a few ulps of the CPU's float math (which sometimes works
// in double where the GPU works in float, e.g. exp in softmax).
const Variant kVariants[] = {
    {DType::Float64, false, 1e-9, 1e-10},
    {DType::Float64, true, 1e-9, 1e-10},
    {DType::Float32, false, 1e-4, 1e-5},
    {DType::Float32, true, 1e-4, 1e-5},
};

struct Result {
  Tensor y;
  Tensor w;                   // the upstream gradient, float64 on the CPU
  std::vector<Tensor> grads;  // one per input; undefined where not checked or no gradient arrived
};

bool checked(const OpCase& c, const std::vector<Tensor>& inputs, size_t i) {
  return tensor::is_floating(inputs[i].dtype()) && (c.wrt.empty() || (i < c.wrt.size() && c.wrt[i]));
}

// Runs the case's function on `inputs` (already on their device) and back-propagates the upstream
// gradient `w` (a CPU float64 tensor), or a fresh standard-normal one at the output's shape.
Result run_case(const OpCase& c, const std::vector<Tensor>& inputs, const Tensor* w) {
  std::vector<Variable> vars;
  for (size_t i = 0; i < inputs.size(); ++i) vars.emplace_back(inputs[i], checked(c, inputs, i));
  Result r;
  Variable y = c.fn(vars);
  r.y = y.data();
  tensor::Generator wg(77);
  r.w = w ? *w : tensor::randn(y.shape(), DType::Float64, &wg);
  if (y.requires_grad()) {
    y.backward(r.w.to(y.dtype()).to(y.data().device()));
    for (const auto& v : vars) r.grads.push_back(v.requires_grad() ? v.grad() : Tensor());
  }
  return r;
}

// The case's inputs for a variant on a device: floats converted to the variant's dtype, then laid
// out non-contiguously on that device when asked.
std::vector<Tensor> inputs_for(const std::vector<Tensor>& base, const Variant& v, Device dev) {
  std::vector<Tensor> out;
  for (const Tensor& t : base) {
    Tensor x = tensor::is_floating(t.dtype()) ? t.to(v.dtype) : t;
    x = x.to(dev);
    if (v.noncontiguous) x = autograd::noncontiguous_copy(x);
    out.push_back(x);
  }
  return out;
}

class CudaParity : public ::testing::TestWithParam<size_t> {};

TEST_P(CudaParity, MatchesCpu) {
  PM_REQUIRE_GPU();
  const OpCase& c = autograd::op_cases()[GetParam()];
  SCOPED_TRACE(c.op + ": " + c.label);
  tensor::Generator g(1000 + GetParam());
  const std::vector<Tensor> base = c.make_inputs(g);

  for (const Variant& v : kVariants) {
    if (v.noncontiguous && !c.noncontiguous) continue;
    SCOPED_TRACE(v.name());
    const Result cpu = run_case(c, inputs_for(base, v, Device::cpu()), nullptr);
    Result gpu;
    try {
      gpu = run_case(c, inputs_for(base, v, Device::cuda()), &cpu.w);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the CUDA run threw: " << e.what();
      continue;
    }
    EXPECT_TRUE(pm_gpu_test::matches_cpu(gpu.y, cpu.y, v.rtol, v.atol)) << "output";
    ASSERT_EQ(gpu.grads.size(), cpu.grads.size());
    for (size_t i = 0; i < cpu.grads.size(); ++i) {
      if (!cpu.grads[i].defined() && !gpu.grads[i].defined()) continue;
      EXPECT_TRUE(pm_gpu_test::matches_cpu(gpu.grads[i], cpu.grads[i], v.rtol, v.atol)) << "gradient of input " << i;
    }
  }
}

std::vector<size_t> all_case_indices() {
  std::vector<size_t> idx(autograd::op_cases().size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  return idx;
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string s = autograd::op_cases()[info.param].op + "_" + std::to_string(info.param);
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(AllOps, CudaParity, ::testing::ValuesIn(all_case_indices()), case_name);

TEST(CudaParityRegistry, HasCases) { EXPECT_GT(autograd::op_cases().size(), 50u) << "the op-case registry is not linked in"; }

}  // namespace
