// causal_conv1d_test.cpp: the fused causal conv1d against the composite nn::causal_conv1d (output
// and gradients, with and without bias / SiLU, forward and reversed time, K from 1 to 5, sequences
// shorter than the kernel, strided inputs), the flip identity of reversed time, the decode step
// against the full convolution, and every argument error.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "common/test_util.h"
#include "mamba/ops/causal_conv1d.h"
#include "mamba/ops/reference.h"

namespace {
using autograd::Variable;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

struct Conv {
  int64_t b, E, L, K;
  bool bias, silu, reverse;
};

// Output and gradients (x, w, bias) of fn under a fixed random upstream gradient.
template <typename Fn> std::vector<Tensor> run(const Tensor& x, const Tensor& w, const Tensor& bias, Fn fn) {
  Variable vx(x, true), vw(w, true), vb = bias.defined() ? Variable(bias, true) : Variable();
  Variable y = fn(vx, vw, vb);
  tensor::Generator g(3);
  y.backward(tensor::randn(y.shape(), y.dtype(), &g));
  return {y.data(), vx.grad(), vw.grad(), bias.defined() ? vb.grad() : Tensor()};
}

class ConvVsComposite : public ::testing::TestWithParam<Conv> {};

TEST_P(ConvVsComposite, OutputAndGradients) {
  const Conv c = GetParam();
  for (DType dt : {DType::Float64, DType::Float32}) {
    SCOPED_TRACE(tensor::dtype_name(dt));
    tensor::Generator g(5);
    Tensor x = tensor::randn({c.b, c.E, c.L}, dt, &g), w = tensor::randn({c.E, 1, c.K}, dt, &g);
    Tensor bias = c.bias ? tensor::randn({c.E}, dt, &g) : Tensor();
    mamba::ConvOptions o;
    o.silu = c.silu, o.reverse = c.reverse;
    auto a = run(x, w, bias, [&](auto& vx, auto& vw, auto& vb) { return mamba::causal_conv1d(vx, vw, vb, o); });
    auto r = run(x, w, bias, [&](auto& vx, auto& vw, auto& vb) {
      return mamba::causal_conv1d_ref(vx, vw, vb, c.silu, c.reverse);
    });
    const double tol = dt == DType::Float64 ? 1e-12 : 1e-5;
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i].defined(), r[i].defined());
      if (a[i].defined()) {
        EXPECT_TRUE(pm_test::tensors_close(a[i], r[i], tol, tol)) << "output/grad " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvVsComposite,
                         ::testing::Values(Conv{2, 3, 17, 4, true, true, false}, Conv{2, 3, 17, 4, true, true, true},
                                           Conv{1, 5, 9, 1, false, false, false}, Conv{2, 2, 3, 5, true, false, true},
                                           Conv{1, 4, 30, 3, false, true, true}, Conv{3, 2, 2, 4, true, true, false}));

TEST(CausalConv1d, ReverseEqualsFlippedConv) {
  tensor::Generator g(6);
  Tensor x = tensor::randn({2, 3, 11}, DType::Float64, &g), w = tensor::randn({3, 4}, DType::Float64, &g),
         bias = tensor::randn({3}, DType::Float64, &g);
  mamba::ConvOptions fwd, rev;
  fwd.silu = rev.silu = true;
  rev.reverse = true;
  auto a = run(x, w, bias, [&](auto& vx, auto& vw, auto& vb) { return mamba::causal_conv1d(vx, vw, vb, rev); });
  auto b = run(x, w, bias, [&](auto& vx, auto& vw, auto& vb) {
    return autograd::flip(mamba::causal_conv1d(autograd::flip(vx, {2}), vw, vb, fwd), {2});
  });
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(pm_test::tensors_close(a[i], b[i], 1e-12, 1e-12)) << i;
  EXPECT_EQ(a[2].shape(), (Shape{3, 4}));  // dw keeps w's own shape
}

TEST(CausalConv1d, StridedInputMatchesContiguous) {
  tensor::Generator g(7);
  Tensor xz = tensor::randn({2, 6, 18}, DType::Float32, &g).slice(2, 0, 18, 2);  // [2, 6, 9] with L stride 2
  Tensor x = xz.narrow(1, 0, 3), w = tensor::randn({3, 1, 4}, DType::Float32, &g), bias = tensor::randn({3}, DType::Float32, &g);
  mamba::ConvOptions o;
  o.silu = true;
  EXPECT_TRUE(pm_test::tensors_close(mamba::causal_conv1d_forward(x, w, bias, o),
                                     mamba::causal_conv1d_forward(x.contiguous(), w, bias, o), 0, 0));
}

TEST(CausalConv1d, ChannelsAdjacentKernelMatchesRowKernel) {
  // x as a transposed [b, L, E] takes the channel-vectorised kernel and keeps that layout
  for (DType dt : {DType::Float32, DType::Float64})
    for (int64_t E : {3, 16, 21})
      for (int64_t K : {1, 4})
        for (int flags = 0; flags < 4; ++flags) {
          SCOPED_TRACE(std::string(tensor::dtype_name(dt)) + " E " + std::to_string(E) + " K " + std::to_string(K) +
                       " flags " + std::to_string(flags));
          tensor::Generator g(9);
          Tensor x = tensor::randn({2, 13, E}, dt, &g).transpose(1, 2), w = tensor::randn({E, 1, K}, dt, &g),
                 bias = tensor::randn({E}, dt, &g), grad = tensor::randn({2, 13, E}, dt, &g).transpose(1, 2);
          mamba::ConvOptions o;
          o.silu = flags & 1;
          o.reverse = flags & 2;
          Tensor y = mamba::causal_conv1d_forward(x, w, bias, o);
          EXPECT_EQ(y.stride(1), 1);
          const double tol = dt == DType::Float64 ? 1e-13 : 1e-5;
          EXPECT_TRUE(pm_test::tensors_close(y, mamba::causal_conv1d_forward(x.contiguous(), w, bias, o), tol, tol));
          mamba::ConvGrads a = mamba::causal_conv1d_backward(grad, x, w, bias, o);
          mamba::ConvGrads b = mamba::causal_conv1d_backward(grad.contiguous(), x.contiguous(), w, bias, o);
          EXPECT_EQ(a.dx.stride(1), 1);
          EXPECT_TRUE(pm_test::tensors_close(a.dx, b.dx, tol, tol));
          EXPECT_TRUE(pm_test::tensors_close(a.dw, b.dw, tol, tol));
          EXPECT_TRUE(pm_test::tensors_close(a.dbias, b.dbias, tol, tol));
        }
}

TEST(CausalConv1d, DecodeStepsMatchTheSequence) {
  const int64_t b = 2, E = 3, L = 9, K = 4;
  tensor::Generator g(8);
  Tensor x = tensor::randn({b, E, L}, DType::Float64, &g), w = tensor::randn({E, 1, K}, DType::Float64, &g),
         bias = tensor::randn({E}, DType::Float64, &g);
  mamba::ConvOptions o;
  o.silu = true;
  Tensor full = mamba::causal_conv1d_forward(x, w, bias, o);
  // prefill the first 2 steps (shorter than K: left-padded state), then step through the rest
  Tensor state = mamba::causal_conv1d_state(x.narrow(2, 0, 2), K);
  EXPECT_TRUE(pm_test::tensors_close(state.narrow(2, 0, 2), tensor::zeros({b, E, 2}, DType::Float64), 0, 0));
  for (int64_t t = 2; t < L; ++t) {
    Tensor y = mamba::causal_conv1d_update(x.select(2, t), state, w, bias, true);
    ASSERT_TRUE(pm_test::tensors_close(y, full.select(2, t), 1e-12, 1e-12)) << "step " << t;
  }
  EXPECT_TRUE(pm_test::tensors_close(state, mamba::causal_conv1d_state(x, K), 0, 0));
}

TEST(CausalConv1d, ArgumentErrors) {
  Tensor x = tensor::zeros({2, 3, 5}), w = tensor::zeros({3, 1, 4}), bias = tensor::zeros({3});
  auto fwd = [](Tensor a, Tensor b, Tensor c) { return [=] { mamba::causal_conv1d_forward(a, b, c); }; };
  EXPECT_TRUE(pm_test::throws_with(fwd(tensor::zeros({3, 5}), w, bias), {"causal_conv1d", "input must be [b, E, L]", "[3, 5]"}));
  EXPECT_TRUE(pm_test::throws_with(fwd(x, tensor::zeros({4, 1, 4}), bias),
                                   {"causal_conv1d", "weight of shape [4, 1, 4]", "E = 3", "[2, 3, 5]"}));
  EXPECT_TRUE(pm_test::throws_with(fwd(x, tensor::zeros({3, 2, 4}), bias), {"causal_conv1d", "weight of shape [3, 2, 4]"}));
  EXPECT_TRUE(pm_test::throws_with(fwd(x, w, tensor::zeros({4})), {"causal_conv1d", "bias of shape [4]", "[3]"}));
  EXPECT_TRUE(pm_test::throws_with(fwd(x, w.to(DType::Float64), bias), {"causal_conv1d", "float32", "float64"}));
  EXPECT_TRUE(pm_test::throws_with(fwd(tensor::zeros({2, 3, 5}, DType::Int32), w, bias),
                                   {"causal_conv1d", "expected a float32 or float64 tensor", "int32"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::causal_conv1d_backward(tensor::zeros({2, 3, 4}), x, w, bias); },
                                   {"causal_conv1d_backward", "gradient of shape [2, 3, 4]", "[2, 3, 5]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::causal_conv1d(Variable(x), Variable(), Variable()); },
                                   {"causal_conv1d", "must be defined"}));
  // decode helpers
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::causal_conv1d_state(tensor::zeros({2, 3}), 4); },
                                   {"causal_conv1d_state", "input must be [b, E, L]", "[2, 3]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::causal_conv1d_state(x, 0); }, {"causal_conv1d_state", "K must be positive"}));
  Tensor st = tensor::zeros({2, 3, 4});
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::causal_conv1d_update(tensor::zeros({2, 3, 1}), st, w, bias, true); },
                                   {"causal_conv1d_update", "input must be [b, E]", "[2, 3, 1]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::causal_conv1d_update(tensor::zeros({2, 3}), tensor::zeros({2, 3, 3}), w, bias, true); },
                                   {"causal_conv1d_update", "conv_state of shape [2, 3, 3]", "[2, 3, 4]"}));
}

}  // namespace
