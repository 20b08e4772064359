// selective_scan_test.cpp: the fused selective scan against its sequential composite oracle
// (mamba::selective_scan_ref) for the output and every gradient, in float64 and float32, N from 1 to
// 256, L = 8192, forward and reversed time (and the flip identity of the reversed scan), the decode
// step against the scan, thread-count independence of the backward, and every argument error.
#include <gtest/gtest.h>
#include <omp.h>

#include "autograd/ops.h"
#include "common/test_util.h"
#include "mamba/ops/reference.h"
#include "mamba/ops/selective_scan.h"

namespace {
using autograd::Variable;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

struct Inputs {
  Tensor u, delta, A, B, C, D, z, bias;
};

Inputs make_inputs(int64_t b, int64_t E, int64_t L, int64_t N, DType dt, uint64_t seed, bool softplus = true) {
  tensor::Generator g(seed);
  Inputs in;
  in.u = tensor::randn({b, E, L}, dt, &g);
  in.delta = softplus ? tensor::randn({b, E, L}, dt, &g, -1.0, 1.0) : tensor::rand({b, E, L}, dt, &g, 0.01, 0.5);
  in.A = tensor::rand({E, N}, dt, &g, -2.0, -0.1);
  in.B = tensor::randn({b, N, L}, dt, &g);
  in.C = tensor::randn({b, N, L}, dt, &g);
  in.D = tensor::randn({E}, dt, &g);
  in.z = tensor::randn({b, E, L}, dt, &g);
  in.bias = tensor::rand({E}, dt, &g, -0.5, 0.5);
  return in;
}

struct Flags {
  bool D = true, z = true, bias = true;
};

// Runs `fn` on fresh leaves and backpropagates a fixed random gradient; returns output + grads.
template <typename Fn> std::vector<Tensor> run(const Inputs& in, const Flags& f, Fn fn, uint64_t seed = 7) {
  std::vector<Variable> v = {Variable(in.u, true), Variable(in.delta, true), Variable(in.A, true),
                             Variable(in.B, true), Variable(in.C, true),
                             f.D ? Variable(in.D, true) : Variable(),
                             f.z ? Variable(in.z, true) : Variable(),
                             f.bias ? Variable(in.bias, true) : Variable()};
  Variable y = fn(v);
  tensor::Generator g(seed);
  y.backward(tensor::randn(y.shape(), y.dtype(), &g));
  std::vector<Tensor> out = {y.data()};
  for (const auto& x : v) out.push_back(x.defined() ? x.grad() : Tensor());
  return out;
}

std::vector<Tensor> run_fused(const Inputs& in, const Flags& f, const mamba::ScanOptions& o) {
  return run(in, f, [&](const std::vector<Variable>& v) {
    return mamba::selective_scan(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], o);
  });
}

std::vector<Tensor> run_ref(const Inputs& in, const Flags& f, const mamba::ScanOptions& o) {
  return run(in, f, [&](const std::vector<Variable>& v) {
    return mamba::selective_scan_ref(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], o);
  });
}

const char* kNames[] = {"out", "du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddelta_bias"};

void expect_all_close(const std::vector<Tensor>& a, const std::vector<Tensor>& b, double rtol, double atol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(kNames[i]);
    ASSERT_EQ(a[i].defined(), b[i].defined());
    if (a[i].defined()) {
      EXPECT_TRUE(pm_test::tensors_close(a[i], b[i], rtol, atol));
    }
  }
}

struct Config {
  int64_t b, E, L, N;
  bool softplus, reverse;
  Flags flags;
  int64_t chunk;
};

class ScanVsReference : public ::testing::TestWithParam<Config> {};

TEST_P(ScanVsReference, Float64OutputAndGradients) {
  const Config c = GetParam();
  Inputs in = make_inputs(c.b, c.E, c.L, c.N, DType::Float64, 11, c.softplus);
  mamba::ScanOptions o;
  o.delta_softplus = c.softplus, o.reverse = c.reverse, o.chunk_size = c.chunk;
  expect_all_close(run_fused(in, c.flags, o), run_ref(in, c.flags, o), 1e-9, 1e-10);
}

TEST_P(ScanVsReference, Float32OutputAndGradients) {
  const Config c = GetParam();
  Inputs in = make_inputs(c.b, c.E, c.L, c.N, DType::Float32, 12, c.softplus);
  mamba::ScanOptions o;
  o.delta_softplus = c.softplus, o.reverse = c.reverse, o.chunk_size = c.chunk;
  // The oracle in float64 (same float32 values), the fused op in float32: mamba_ssm's fp32 tolerances.
  Inputs in64{in.u.to(DType::Float64), in.delta.to(DType::Float64), in.A.to(DType::Float64),
              in.B.to(DType::Float64),  in.C.to(DType::Float64),     in.D.to(DType::Float64),
              in.z.to(DType::Float64),  in.bias.to(DType::Float64)};
  std::vector<Tensor> ref = run_ref(in64, c.flags, o);
  std::vector<Tensor> got = run_fused(in, c.flags, o);
  for (auto& t : got)
    if (t.defined()) t = t.to(DType::Float64);
  expect_all_close(got, ref, 1e-3, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ScanVsReference,
    ::testing::Values(Config{2, 3, 37, 16, true, false, {}, 8}, Config{2, 3, 37, 16, true, true, {}, 8},
                      Config{1, 4, 20, 1, false, false, {false, false, false}, 64},
                      Config{2, 2, 33, 7, true, true, {true, false, true}, 5},
                      Config{1, 2, 19, 64, false, true, {false, true, false}, 4},
                      Config{1, 2, 12, 256, true, false, {}, 64}, Config{2, 5, 130, 16, true, false, {}, 64}));

TEST(SelectiveScan, LongSequenceMatchesReference) {
  // L = 8192 with small E: forward and every gradient, several chunks (default chunk 64).
  Inputs in = make_inputs(1, 2, 8192, 16, DType::Float64, 21);
  mamba::ScanOptions o;
  o.delta_softplus = true;
  expect_all_close(run_fused(in, {}, o), run_ref(in, {}, o), 1e-8, 1e-9);
}

TEST(SelectiveScan, LongSequenceFloat32StaysFinite) {
  Inputs in = make_inputs(2, 4, 16384, 16, DType::Float32, 22);
  mamba::ScanOptions o;
  o.delta_softplus = true;
  std::vector<Tensor> r = run_fused(in, {}, o);
  for (const auto& t : r) {
    ASSERT_TRUE(t.defined());
    for (double x : t.to_vector()) ASSERT_TRUE(std::isfinite(x));
  }
}

// flip(scan(flip(x))) == scan(x, reverse) for the fused op itself, output and gradients.
TEST(SelectiveScan, ReverseEqualsFlippedScan) {
  Inputs in = make_inputs(2, 3, 29, 6, DType::Float64, 31);
  mamba::ScanOptions fwd, rev;
  fwd.delta_softplus = rev.delta_softplus = true;
  fwd.chunk_size = rev.chunk_size = 8;
  rev.reverse = true;
  std::vector<Tensor> a = run_fused(in, {}, rev);
  std::vector<Tensor> b = run(in, {}, [&](const std::vector<Variable>& v) {
    auto f = [](const Variable& x) { return autograd::flip(x, {2}); };
    return f(mamba::selective_scan(f(v[0]), f(v[1]), v[2], f(v[3]), f(v[4]), v[5], f(v[6]), v[7], fwd));
  });
  expect_all_close(a, b, 1e-12, 1e-12);
}

TEST(SelectiveScan, ChunkSizeDoesNotChangeResults) {
  Inputs in = make_inputs(2, 3, 50, 8, DType::Float64, 41);
  mamba::ScanOptions a, b;
  a.delta_softplus = b.delta_softplus = true;
  a.chunk_size = 1;
  b.chunk_size = 1000;
  expect_all_close(run_fused(in, {}, a), run_fused(in, {}, b), 1e-12, 1e-12);
}

TEST(SelectiveScan, NonContiguousInputs) {
  // u, z as the two halves of one [b, 2E, L] tensor, delta from a [b, L, E] tensor, B and C as
  // column slices of a [b, L, R + 2N] tensor: the layouts the mixer hands the op.
  const int64_t b = 2, E = 3, L = 11, N = 4, R = 2;
  tensor::Generator g(51);
  Tensor xz = tensor::randn({b, 2 * E, L}, DType::Float64, &g);
  Tensor dl = tensor::randn({b, L, E}, DType::Float64, &g).transpose(1, 2);
  Tensor xdbl = tensor::randn({b, L, R + 2 * N}, DType::Float64, &g);
  Inputs in{xz.narrow(1, 0, E),
            dl,
            tensor::rand({E, N}, DType::Float64, &g, -1.0, -0.2),
            xdbl.narrow(2, R, N).transpose(1, 2),
            xdbl.narrow(2, R + N, N).transpose(1, 2),
            tensor::randn({E}, DType::Float64, &g),
            xz.narrow(1, E, E),
            tensor::randn({E}, DType::Float64, &g)};
  Inputs contig{in.u.contiguous(), in.delta.contiguous(), in.A, in.B.contiguous(), in.C.contiguous(), in.D,
                in.z.contiguous(), in.bias};
  mamba::ScanOptions o;
  o.delta_softplus = true;
  o.chunk_size = 4;
  expect_all_close(run_fused(in, {}, o), run_fused(contig, {}, o), 0, 0);
  expect_all_close(run_fused(in, {}, o), run_ref(in, {}, o), 1e-9, 1e-10);
}

TEST(SelectiveScan, ChannelContiguousInputsMatchContiguous) {
  // u, delta, z and the gradient as transposed [b, L, E] tensors (channels adjacent: the kernels load
  // whole lane vectors), with E = 21 covering full and partial channel blocks in both dtypes
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (bool reverse : {false, true}) {
      const int64_t b = 2, E = 21, L = 70, N = 4;
      tensor::Generator g(52);
      auto tr = [&](Shape s) { return tensor::randn({s[0], s[2], s[1]}, dt, &g).transpose(1, 2); };
      Inputs in{tr({b, E, L}), tr({b, E, L}), tensor::rand({E, N}, dt, &g, -1.0, -0.2), tensor::randn({b, N, L}, dt, &g),
                tensor::randn({b, N, L}, dt, &g), tensor::randn({E}, dt, &g), tr({b, E, L}), tensor::randn({E}, dt, &g)};
      Inputs contig = in;
      contig.u = in.u.contiguous(), contig.delta = in.delta.contiguous(), contig.z = in.z.contiguous();
      mamba::ScanOptions o;
      o.delta_softplus = true;
      o.reverse = reverse;
      Tensor grad = tr({b, E, L});
      auto f1 = mamba::selective_scan_forward(in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, o, true);
      auto f2 = mamba::selective_scan_forward(contig.u, contig.delta, in.A, in.B, in.C, in.D, contig.z, in.bias, o, true);
      EXPECT_TRUE(pm_test::tensors_close(f1.out, f2.out, 0, 0));
      auto g1 = mamba::selective_scan_backward(grad, in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, f1.checkpoints, o);
      auto g2 = mamba::selective_scan_backward(grad.contiguous(), contig.u, contig.delta, in.A, in.B, in.C, in.D, contig.z,
                                               in.bias, f2.checkpoints, o);
      for (auto [a, c] : {std::pair{g1.du, g2.du}, {g1.ddelta, g2.ddelta}, {g1.dz, g2.dz}, {g1.dB, g2.dB}, {g1.dA, g2.dA}})
        EXPECT_TRUE(pm_test::tensors_close(a, c, 0, 0));
    }
  }
}

TEST(SelectiveScan, BackwardIsIndependentOfThreadCount) {
  Inputs in = make_inputs(2, 40, 300, 16, DType::Float32, 61);
  mamba::ScanOptions o;
  o.delta_softplus = true;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<Tensor> one = run_fused(in, {}, o);
  omp_set_num_threads(std::max(2, saved));
  std::vector<Tensor> many = run_fused(in, {}, o);
  omp_set_num_threads(saved);
  expect_all_close(one, many, 0, 0);
}

TEST(SelectiveScan, LastStateAndDecodeStepsMatchTheScan) {
  const int64_t b = 2, E = 3, L = 13, N = 5;
  Inputs in = make_inputs(b, E, L, N, DType::Float64, 71);
  mamba::ScanOptions o;
  o.delta_softplus = true;
  mamba::ScanForward f = mamba::selective_scan_forward(in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, o);
  Tensor state = tensor::zeros({b, E, N}, DType::Float64);
  for (int64_t t = 0; t < L; ++t) {
    Tensor y = mamba::selective_state_update(state, in.u.select(2, t), in.delta.select(2, t), in.A, in.B.select(2, t),
                                             in.C.select(2, t), in.D, in.z.select(2, t), in.bias, true);
    ASSERT_TRUE(pm_test::tensors_close(y, f.out.select(2, t), 1e-12, 1e-12)) << "step " << t;
  }
  EXPECT_TRUE(pm_test::tensors_close(state, f.last_state, 1e-12, 1e-12));
  // the reversed scan ends at t = 0
  o.reverse = true;
  mamba::ScanForward r = mamba::selective_scan_forward(in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, o);
  state = tensor::zeros({b, E, N}, DType::Float64);
  for (int64_t t = L - 1; t >= 0; --t)
    mamba::selective_state_update(state, in.u.select(2, t), in.delta.select(2, t), in.A, in.B.select(2, t),
                                  in.C.select(2, t), in.D, in.z.select(2, t), in.bias, true);
  EXPECT_TRUE(pm_test::tensors_close(state, r.last_state, 1e-12, 1e-12));
}

TEST(SelectiveScan, BackwardWithoutCheckpointsRecomputesThem) {
  Inputs in = make_inputs(1, 2, 20, 3, DType::Float64, 81);
  mamba::ScanOptions o;
  o.chunk_size = 6;
  mamba::ScanForward f = mamba::selective_scan_forward(in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, o, true);
  EXPECT_EQ(f.checkpoints.shape(), (Shape{1, 2, 4, 3}));
  Tensor g = tensor::ones({1, 2, 20}, DType::Float64);
  auto a = mamba::selective_scan_backward(g, in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, f.checkpoints, o);
  auto b = mamba::selective_scan_backward(g, in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, Tensor(), o);
  EXPECT_TRUE(pm_test::tensors_close(a.dB, b.dB, 0, 0));
  EXPECT_TRUE(pm_test::tensors_close(a.du, b.du, 0, 0));
}

TEST(SelectiveScan, NoGraphWithoutGrad) {
  Inputs in = make_inputs(1, 2, 5, 3, DType::Float32, 91);
  Variable y = mamba::selective_scan(Variable(in.u), Variable(in.delta), Variable(in.A), Variable(in.B),
                                     Variable(in.C), Variable(), Variable(), Variable());
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.shape(), (Shape{1, 2, 5}));
}

// ---- argument errors ----------------------------------------------------------------------------------

TEST(SelectiveScan, ArgumentErrorsNameTheShapes) {
  Inputs in = make_inputs(2, 3, 5, 4, DType::Float32, 1);
  auto call = [&](Inputs x, mamba::ScanOptions o = {}) {
    return [x, o] { mamba::selective_scan_forward(x.u, x.delta, x.A, x.B, x.C, x.D, x.z, x.bias, o); };
  };
  Inputs bad = in;
  bad.u = in.u.select(0, 0);
  EXPECT_TRUE(pm_test::throws_with(call(bad), {"selective_scan", "u must be [b, E, L]", "[3, 5]"}));
  bad = in;
  bad.delta = tensor::zeros({2, 3, 4});
  EXPECT_TRUE(pm_test::throws_with(call(bad), {"selective_scan", "delta of shape [2, 3, 4]", "[2, 3, 5]"}));
  bad = in;
  bad.A = tensor::zeros({4, 4});
  EXPECT_TRUE(pm_test::throws_with(call(bad), {"selective_scan", "A of shape [4, 4]", "E = 3"}));
  bad = in;
  bad.B = tensor::zeros({2, 5, 4});
  EXPECT_TRUE(pm_test::throws_with(call(bad), {"selective_scan", "B of shape [2, 5, 4]", "[b, N, L] = [2, 4, 5]"}));
  bad = in;
  bad.C = tensor::zeros({1, 4, 5});
  EXPECT_TRUE(pm_test::throws_with(call(bad), {"selective_scan", "C of shape [1, 4, 5]"}));
  bad = in;
  bad.D = tensor::zeros({4});
  EXPECT_TRUE(pm_test::throws_with(call(bad), {"selective_scan", "D of shape [4]", "[E] = [3]"}));
  bad = in;
  bad.z = tensor::zeros({2, 3, 6});
  EXPECT_TRUE(pm_test::throws_with(call(bad), {"selective_scan", "z of shape [2, 3, 6]"}));
  bad = in;
  bad.bias = tensor::zeros({3, 1});
  EXPECT_TRUE(pm_test::throws_with(call(bad), {"selective_scan", "delta_bias of shape [3, 1]"}));
  bad = in;
  bad.delta = in.delta.to(DType::Float64);
  EXPECT_TRUE(pm_test::throws_with(call(bad), {"selective_scan", "float32", "float64"}));
  bad = in;
  bad.u = tensor::zeros({2, 3, 5}, DType::Int64);
  EXPECT_TRUE(pm_test::throws_with(call(bad), {"selective_scan", "expected a float32 or float64 tensor", "int64"}));
  bad = in;
  bad.A = Tensor();
  EXPECT_TRUE(pm_test::throws_with(call(bad), {"selective_scan"}));
  mamba::ScanOptions o;
  o.chunk_size = 0;
  EXPECT_TRUE(pm_test::throws_with(call(in, o), {"selective_scan", "chunk_size must be positive", "0"}));
  EXPECT_TRUE(pm_test::throws_with(
      [&] {
        mamba::selective_scan(Variable(in.u), Variable(), Variable(in.A), Variable(in.B), Variable(in.C), Variable(),
                              Variable(), Variable());
      },
      {"selective_scan", "must be defined"}));
}

TEST(SelectiveScan, BackwardArgumentErrors) {
  Inputs in = make_inputs(2, 3, 5, 4, DType::Float32, 2);
  EXPECT_TRUE(pm_test::throws_with(
      [&] {
        mamba::selective_scan_backward(tensor::zeros({2, 3, 4}), in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias,
                                       Tensor());
      },
      {"selective_scan_backward", "gradient of shape [2, 3, 4]", "[2, 3, 5]"}));
  EXPECT_TRUE(pm_test::throws_with(
      [&] {
        mamba::selective_scan_backward(tensor::zeros({2, 3, 5}), in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias,
                                       tensor::zeros({2, 3, 2, 4}));
      },
      {"selective_scan_backward", "checkpoints of shape [2, 3, 2, 4]", "[2, 3, 1, 4]"}));
}

TEST(SelectiveScan, StateUpdateArgumentErrors) {
  const int64_t b = 2, E = 3, N = 4;
  Tensor st = tensor::zeros({b, E, N}), u = tensor::zeros({b, E}), A = tensor::zeros({E, N}), B = tensor::zeros({b, N});
  auto call = [&](Tensor s, Tensor uu, Tensor AA, Tensor BB, Tensor CC) {
    return [=] { mamba::selective_state_update(s, uu, uu, AA, BB, CC, Tensor(), Tensor(), Tensor(), true); };
  };
  EXPECT_TRUE(pm_test::throws_with(call(st, tensor::zeros({b, E, 1}), A, B, B),
                                   {"selective_state_update", "u must be [b, E]", "[2, 3, 1]"}));
  EXPECT_TRUE(pm_test::throws_with(call(st, u, tensor::zeros({E + 1, N}), B, B),
                                   {"selective_state_update", "A of shape [4, 4]"}));
  EXPECT_TRUE(pm_test::throws_with(call(tensor::zeros({b, E, N + 1}), u, A, B, B),
                                   {"selective_state_update", "state of shape [2, 3, 5]", "[2, 3, 4]"}));
  EXPECT_TRUE(pm_test::throws_with(call(tensor::zeros({b, N, E}).transpose(1, 2), u, A, B, B),
                                   {"selective_state_update", "state must be contiguous"}));
  EXPECT_TRUE(pm_test::throws_with(call(st, u, A, tensor::zeros({b, N + 1}), B),
                                   {"selective_state_update", "B of shape [2, 5]"}));
}

}  // namespace
