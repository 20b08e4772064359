// scan_perf_test.cpp: timing of the CPU selective scan forward + backward at the reference
// shape (b=2, E=512, L=1024, N=16, float32, softplus, z, delta_bias). Disabled by default (a timing,
// not a check); run it with
//   test_mamba --gtest_also_run_disabled_tests --gtest_filter='*ScanPerf*'
// (OMP_NUM_THREADS sets the thread count). Prints the best of 7 runs.
#include <gtest/gtest.h>
#include <omp.h>

#include <chrono>
#include <cstdio>

#include "mamba/ops/selective_scan.h"
#include "tensor/ops.h"

namespace {
using tensor::DType;
using tensor::Tensor;

TEST(ScanPerf, DISABLED_ForwardBackwardAtReferenceShape) {
  const int64_t b = 2, E = 512, L = 1024, N = 16;
  tensor::Generator g(1);
  const DType dt = DType::Float32;
  Tensor u = tensor::randn({b, E, L}, dt, &g), delta = tensor::randn({b, E, L}, dt, &g),
         z = tensor::randn({b, E, L}, dt, &g), grad = tensor::randn({b, E, L}, dt, &g);
  Tensor A = tensor::rand({E, N}, dt, &g, -2.0, -0.1), B = tensor::randn({b, N, L}, dt, &g),
         C = tensor::randn({b, N, L}, dt, &g), D = tensor::randn({E}, dt, &g), bias = tensor::randn({E}, dt, &g);
  mamba::ScanOptions o;
  o.delta_softplus = true;
  double fwd = 1e30, bwd = 1e30;
  for (int it = 0; it < 7; ++it) {
    auto t0 = std::chrono::steady_clock::now();
    mamba::ScanForward f = mamba::selective_scan_forward(u, delta, A, B, C, D, z, bias, o, true);
    auto t1 = std::chrono::steady_clock::now();
    mamba::ScanGrads r = mamba::selective_scan_backward(grad, u, delta, A, B, C, D, z, bias, f.checkpoints, o);
    auto t2 = std::chrono::steady_clock::now();
    fwd = std::min(fwd, std::chrono::duration<double>(t1 - t0).count());
    bwd = std::min(bwd, std::chrono::duration<double>(t2 - t1).count());
    ASSERT_TRUE(r.dB.defined());
  }
  std::printf("selective_scan cpu b=%lld E=%lld L=%lld N=%lld float32 threads=%d: forward %.2f ms, backward %.2f ms, "
              "total %.2f ms\n",
              static_cast<long long>(b), static_cast<long long>(E), static_cast<long long>(L),
              static_cast<long long>(N), omp_get_max_threads(), fwd * 1e3, bwd * 1e3, (fwd + bwd) * 1e3);
}

}  // namespace
