// mamba_ops_cuda_test.cpp: the CUDA selective scan and causal conv1d against the CPU ops (which
// tests/mamba checks against the step-by-step oracles and finite differences) at sizes the op-case
// parity suite does not reach: d_state 1 to 256 (powers of two and not), sequences of 8200 steps,
// several tiles and channel blocks, both time directions, the mixer's strided layouts, float32 and
// float64; the decode steps; and a small MambaLM / bidirectional mixer on the GPU against the CPU
// (every tensor made at forward time must follow the input to the GPU).
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "cuda/gpu_test_util.h"
#include "mamba/lm.h"
#include "mamba/mixer.h"
#include "mamba/ops/causal_conv1d.h"
#include "mamba/ops/selective_scan.h"
#include "tensor/ops.h"

namespace {
using pm_gpu_test::cuda;
using pm_gpu_test::matches_cpu;
using tensor::DType;
using tensor::Generator;
using tensor::Tensor;

struct Tol {
  double rtol, atol;
};
Tol tol_for(DType dt) { return dt == DType::Float64 ? Tol{1e-9, 1e-10} : Tol{2e-4, 2e-4}; }

struct ScanShape {
  int64_t b, E, L, N;
  bool D, z, bias, softplus, reverse, mixer_layout;
};

std::string name_of(const ScanShape& s, DType dt) {
  return "b" + std::to_string(s.b) + " E" + std::to_string(s.E) + " L" + std::to_string(s.L) + " N" +
         std::to_string(s.N) + (s.reverse ? " reversed" : "") + (s.mixer_layout ? " mixer layout" : "") + " " +
         tensor::dtype_name(dt);
}

// Inputs as the mixer lays them out (u, delta, z channels-adjacent; B, C states-adjacent) or contiguous.
std::vector<Tensor> scan_inputs(const ScanShape& s, DType dt, Generator& g) {
  auto seq = [&](Tensor t) { return s.mixer_layout ? t.reshape({s.b, s.L, s.E}).transpose(1, 2) : t; };
  auto st = [&](Tensor t) { return s.mixer_layout ? t.reshape({s.b, s.L, s.N}).transpose(1, 2) : t; };
  std::vector<Tensor> in;
  in.push_back(seq(tensor::randn({s.b, s.E, s.L}, dt, &g)));
  in.push_back(seq(s.softplus ? tensor::randn({s.b, s.E, s.L}, dt, &g, -1.0, 1.0)
                              : tensor::rand({s.b, s.E, s.L}, dt, &g, 0.01, 0.3)));
  in.push_back(tensor::rand({s.E, s.N}, dt, &g, -4.0, -0.2));
  in.push_back(st(tensor::randn({s.b, s.N, s.L}, dt, &g)));
  in.push_back(st(tensor::randn({s.b, s.N, s.L}, dt, &g)));
  in.push_back(s.D ? tensor::randn({s.E}, dt, &g) : Tensor());
  in.push_back(s.z ? seq(tensor::randn({s.b, s.E, s.L}, dt, &g)) : Tensor());
  in.push_back(s.bias ? tensor::rand({s.E}, dt, &g, -2.0, -1.0) : Tensor());
  return in;
}

// A GPU copy that keeps a channels-adjacent [b, X, L] layout (a transposed [b, L, X]) as it is.
Tensor on_gpu(const Tensor& t) {
  if (!t.defined()) return t;
  if (t.dim() == 3 && t.stride(1) == 1 && t.size(1) > 1)
    return cuda(t.transpose(1, 2).contiguous()).transpose(1, 2);
  return cuda(t);
}

void check_scan(const ScanShape& s, DType dt) {
  SCOPED_TRACE(name_of(s, dt));
  Generator g(7 + s.L + s.N);
  const std::vector<Tensor> c = scan_inputs(s, dt, g);
  std::vector<Tensor> d;
  for (const Tensor& t : c) d.push_back(on_gpu(t));
  mamba::ScanOptions o;
  o.delta_softplus = s.softplus, o.reverse = s.reverse;
  const mamba::ScanForward fc = mamba::selective_scan_forward(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], o, true);
  const mamba::ScanForward fd = mamba::selective_scan_forward(d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], o, true);
  const Tol t = tol_for(dt);
  EXPECT_TRUE(matches_cpu(fd.out, fc.out, t.rtol, t.atol)) << "out";
  EXPECT_TRUE(matches_cpu(fd.last_state, fc.last_state, t.rtol, t.atol)) << "last_state";
  Tensor grad = tensor::randn({s.b, s.E, s.L}, dt, &g);
  const mamba::ScanGrads gc =
      mamba::selective_scan_backward(grad, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], fc.checkpoints, o);
  const mamba::ScanGrads gd =
      mamba::selective_scan_backward(cuda(grad), d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], fd.checkpoints, o);
  // sums over many terms: scale the absolute tolerance with the largest gradient element
  auto close = [&](const Tensor& a, const Tensor& b, const char* what) {
    if (!b.defined()) {
      EXPECT_FALSE(a.defined()) << what;
      return;
    }
    double mx = 0;
    for (double v : b.to_vector()) mx = std::max(mx, std::fabs(v));
    EXPECT_TRUE(matches_cpu(a, b, t.rtol, t.atol * std::max(1.0, mx))) << what;
  };
  close(gd.du, gc.du, "du");
  close(gd.ddelta, gc.ddelta, "ddelta");
  close(gd.dA, gc.dA, "dA");
  close(gd.dB, gc.dB, "dB");
  close(gd.dC, gc.dC, "dC");
  close(gd.dD, gc.dD, "dD");
  close(gd.dz, gc.dz, "dz");
  close(gd.ddelta_bias, gc.ddelta_bias, "ddelta_bias");
  // the backward without saved checkpoints reruns the forward
  const mamba::ScanGrads ge =
      mamba::selective_scan_backward(cuda(grad), d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], Tensor(), o);
  close(ge.du, gc.du, "du (no checkpoints)");
}

TEST(MambaScanCuda, MatchesCpuAcrossStateSizes) {
  PM_REQUIRE_GPU();
  for (DType dt : {DType::Float32, DType::Float64})
    for (int64_t N : {1, 2, 3, 16, 33, 128, 256}) check_scan({2, 37, 45, N, true, true, true, true, false, false}, dt);
}

TEST(MambaScanCuda, MatchesCpuInBothDirectionsAndLayouts) {
  PM_REQUIRE_GPU();
  for (DType dt : {DType::Float32, DType::Float64})
    for (bool rev : {false, true})
      for (bool mixer : {false, true}) {
        check_scan({3, 70, 100, 16, true, true, true, true, rev, mixer}, dt);
        check_scan({2, 9, 33, 5, false, false, false, false, rev, mixer}, dt);
        check_scan({1, 12, 17, 8, false, true, true, true, rev, mixer}, dt);
      }
}

TEST(MambaScanCuda, LongSequence) {
  PM_REQUIRE_GPU();
  check_scan({1, 6, 8200, 16, true, true, true, true, false, true}, DType::Float64);
  check_scan({2, 4, 8200, 4, true, true, true, true, true, false}, DType::Float32);
}

TEST(MambaScanCuda, StateUpdateMatchesCpu) {
  PM_REQUIRE_GPU();
  for (DType dt : {DType::Float32, DType::Float64}) {
    Generator g(3);
    const int64_t b = 3, E = 20, N = 16;
    Tensor st = tensor::randn({b, E, N}, dt, &g);
    Tensor u = tensor::randn({b, E}, dt, &g), delta = tensor::randn({b, E}, dt, &g);
    Tensor A = tensor::rand({E, N}, dt, &g, -3.0, -0.5), B = tensor::randn({b, N}, dt, &g), C = tensor::randn({b, N}, dt, &g);
    Tensor D = tensor::randn({E}, dt, &g), z = tensor::randn({b, E}, dt, &g), bias = tensor::randn({E}, dt, &g);
    Tensor st_d = cuda(st);
    Tensor yc = mamba::selective_state_update(st, u, delta, A, B, C, D, z, bias, true);
    Tensor yd = mamba::selective_state_update(st_d, cuda(u), cuda(delta), cuda(A), cuda(B), cuda(C), cuda(D), cuda(z),
                                              cuda(bias), true);
    const Tol t = tol_for(dt);
    EXPECT_TRUE(matches_cpu(yd, yc, t.rtol, t.atol));
    EXPECT_TRUE(matches_cpu(st_d, st, t.rtol, t.atol));
  }
}

void check_conv(int64_t b, int64_t E, int64_t L, int64_t K, bool bias, bool silu, bool rev, bool adjacent, DType dt) {
  SCOPED_TRACE("conv b" + std::to_string(b) + " E" + std::to_string(E) + " L" + std::to_string(L) + " K" +
               std::to_string(K) + (rev ? " reversed" : "") + (adjacent ? " channels-adjacent" : "") + " " +
               tensor::dtype_name(dt));
  Generator g(11 + K);
  Tensor x = adjacent ? tensor::randn({b, L, E}, dt, &g).transpose(1, 2) : tensor::randn({b, E, L}, dt, &g);
  Tensor w = tensor::randn({E, 1, K}, dt, &g);
  Tensor bb = bias ? tensor::randn({E}, dt, &g) : Tensor();
  mamba::ConvOptions o;
  o.silu = silu, o.reverse = rev;
  const Tol t = tol_for(dt);
  Tensor xd = on_gpu(x);
  EXPECT_TRUE(matches_cpu(mamba::causal_conv1d_forward(xd, cuda(w), bias ? cuda(bb) : Tensor(), o),
                          mamba::causal_conv1d_forward(x, w, bb, o), t.rtol, t.atol));
  Tensor grad = tensor::randn({b, E, L}, dt, &g);
  const mamba::ConvGrads gc = mamba::causal_conv1d_backward(grad, x, w, bb, o);
  const mamba::ConvGrads gd = mamba::causal_conv1d_backward(cuda(grad), xd, cuda(w), bias ? cuda(bb) : Tensor(), o);
  EXPECT_TRUE(matches_cpu(gd.dx, gc.dx, t.rtol, t.atol)) << "dx";
  EXPECT_TRUE(matches_cpu(gd.dw, gc.dw, t.rtol, t.atol * 50)) << "dw";
  if (bias) {
    EXPECT_TRUE(matches_cpu(gd.dbias, gc.dbias, t.rtol, t.atol * 50)) << "dbias";
  }
}

TEST(MambaConv1dCuda, MatchesCpu) {
  PM_REQUIRE_GPU();
  for (DType dt : {DType::Float32, DType::Float64})
    for (bool rev : {false, true}) {
      check_conv(2, 70, 300, 4, true, true, rev, true, dt);
      check_conv(3, 5, 41, 7, false, false, rev, false, dt);
      check_conv(1, 33, 3, 4, true, true, rev, false, dt);
    }
}

TEST(MambaConv1dCuda, UpdateMatchesCpu) {
  PM_REQUIRE_GPU();
  Generator g(5);
  const int64_t b = 2, E = 40, K = 4;
  Tensor st = tensor::randn({b, E, K}, DType::Float32, &g), x = tensor::randn({b, E}, DType::Float32, &g);
  Tensor w = tensor::randn({E, K}, DType::Float32, &g), bias = tensor::randn({E}, DType::Float32, &g);
  Tensor st_d = cuda(st);
  Tensor yd = mamba::causal_conv1d_update(cuda(x), st_d, cuda(w), cuda(bias), true);
  Tensor yc = mamba::causal_conv1d_update(x, st, w, bias, true);
  EXPECT_TRUE(matches_cpu(yd, yc, 1e-5, 1e-6));
  EXPECT_TRUE(pm_gpu_test::equals_cpu(st_d, st));
}

mamba::MambaConfig small_lm() {
  mamba::MambaConfig c;
  c.d_model = 16, c.n_layer = 2, c.vocab_size = 37, c.d_state = 8, c.d_conv = 3, c.dt_rank = 3;
  return c;
}

TEST(MambaModelCuda, LmLossAndGradientsMatchCpu) {
  PM_REQUIRE_GPU();
  Generator g(21);
  mamba::MambaLM cpu(small_lm(), &g, DType::Float64);
  Generator g2(21);
  mamba::MambaLM gpu(small_lm(), &g2, DType::Float64);
  gpu.to(tensor::Device::cuda());
  Generator gi(4);
  Tensor ids = tensor::randint(0, 37, {2, 40}, &gi);
  autograd::Variable lc = cpu.next_token_loss(ids);
  autograd::Variable ld = gpu.next_token_loss(cuda(ids));
  lc.backward();
  ld.backward();
  EXPECT_TRUE(matches_cpu(ld.data(), lc.data(), 1e-9, 1e-10)) << "loss";
  const auto pc = cpu.named_parameters(), pd = gpu.named_parameters();
  ASSERT_EQ(pc.size(), pd.size());
  for (size_t i = 0; i < pc.size(); ++i)
    EXPECT_TRUE(matches_cpu(pd[i].second.grad(), pc[i].second.grad(), 1e-8, 1e-10)) << pc[i].first;
}

TEST(MambaModelCuda, DecodeMatchesCpu) {
  PM_REQUIRE_GPU();
  Generator g(22);
  mamba::MambaLM cpu(small_lm(), &g, DType::Float32);
  Generator g2(22);
  mamba::MambaLM gpu(small_lm(), &g2, DType::Float32);
  gpu.to(tensor::Device::cuda());
  Generator gi(6);
  Tensor ids = tensor::randint(0, 37, {2, 9}, &gi), next = tensor::randint(0, 37, {2}, &gi);
  mamba::InferenceCache cc, cd;
  EXPECT_TRUE(matches_cpu(gpu.prefill(cuda(ids), cd), cpu.prefill(ids, cc), 1e-4, 1e-5)) << "prefill";
  EXPECT_TRUE(matches_cpu(gpu.step(cuda(next), cd), cpu.step(next, cc), 1e-4, 1e-5)) << "step";
}

TEST(MambaModelCuda, BidirectionalMixerMatchesCpu) {
  PM_REQUIRE_GPU();
  mamba::MixerConfig c;
  c.d_model = 8, c.d_inner = 20, c.d_state = 6, c.d_conv = 4, c.dt_rank = 2, c.bidirectional = true;
  Generator g(9);
  mamba::MambaMixer cpu(c, &g, DType::Float64);
  Generator g2(9);
  mamba::MambaMixer gpu(c, &g2, DType::Float64);
  gpu.to(tensor::Device::cuda());
  Generator gi(10);
  Tensor h = tensor::randn({2, 13, 8}, DType::Float64, &gi);
  autograd::Variable hc(h, true), hd(cuda(h), true);
  autograd::Variable yc = cpu.forward(hc), yd = gpu.forward(hd);
  EXPECT_TRUE(matches_cpu(yd.data(), yc.data(), 1e-9, 1e-10));
  autograd::sum(yc).backward();
  autograd::sum(yd).backward();
  EXPECT_TRUE(matches_cpu(hd.grad(), hc.grad(), 1e-9, 1e-10));
  const auto pc = cpu.named_parameters(), pd = gpu.named_parameters();
  for (size_t i = 0; i < pc.size(); ++i)
    EXPECT_TRUE(matches_cpu(pd[i].second.grad(), pc[i].second.grad(), 1e-8, 1e-10)) << pc[i].first;
}

}  // namespace
