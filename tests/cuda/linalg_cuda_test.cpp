// linalg_cuda_test.cpp: matmul / mm / bmm on the GPU (cuBLAS) against the CPU: every layout the
// CPU classifies (row-major, transposed views, strided views that must be copied), vectors, the
// stacked-rows single GEMM, broadcast batches (stride-0 batches and the host loop over outer batch
// dims), batches beyond one cuBLAS call, an empty inner dim, TF32 behind its flag, and the errors.
#include <gtest/gtest.h>

#include "cuda/gpu_test_util.h"
#include "tensor/cuda/runtime.h"

namespace {
using pm_gpu_test::cuda;
using pm_gpu_test::matches_cpu;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

Tensor normal(const Shape& s, DType dt, uint64_t seed) {
  tensor::Generator g(seed);
  return tensor::randn(s, dt, &g);
}

// fp32 products are compared with a tolerance growing with the inner dim K.
double tol(DType dt, int64_t K) { return dt == DType::Float32 ? 2e-6 * static_cast<double>(K + 8) : 1e-12 * (K + 8); }

// The same values as t (on the GPU) with its last two dims stored transposed.
Tensor cuda_transposed(const Tensor& t) { return cuda(t.transpose(-1, -2).contiguous()).transpose(-1, -2); }
// The same values as t (on the GPU) as every other column of a wider matrix: no GEMM layout fits.
Tensor cuda_gapped(const Tensor& t) {
  Shape wide = t.shape();
  wide.back() *= 2;
  Tensor buf = tensor::zeros(wide, t.dtype());
  buf.slice(-1, 0, wide.back(), 2).copy_(t);
  return cuda(buf).slice(-1, 0, wide.back(), 2);
}

struct Case {
  Shape a, b;
};

void check_matmul(const Tensor& a_cpu, const Tensor& b_cpu, const Tensor& a_gpu, const Tensor& b_gpu) {
  const Tensor want = tensor::matmul(a_cpu, b_cpu);
  const Tensor got = tensor::matmul(a_gpu, b_gpu);
  const int64_t K = a_cpu.size(-1);
  EXPECT_TRUE(matches_cpu(got, want, tol(a_cpu.dtype(), K), tol(a_cpu.dtype(), K)));
}

TEST(MatmulCuda, MatchesCpuForShapesAndLayouts) {
  PM_REQUIRE_GPU();
  const std::vector<Case> cases = {
      {{37, 53}, {53, 29}},              // plain mm
      {{53}, {53, 29}},                  // vector @ matrix
      {{37, 53}, {53}},                  // matrix @ vector
      {{53}, {53}},                      // dot
      {{1, 16}, {16, 1}},                // single row and column
      {{4, 17, 9}, {4, 9, 11}},          // bmm
      {{2, 3, 8, 5}, {5, 4}},            // one B for a stacked batch: a single tall GEMM
      {{5, 4}, {2, 3, 4, 6}},            // shared A, batched B (A's batch stride 0)
      {{3, 1, 5, 6}, {4, 6, 7}},         // broadcast on both sides: outer dims loop on the host
      {{2, 1, 3, 4, 5}, {1, 6, 1, 5, 2}},  // three batch dims, interleaved broadcasting
  };
  uint64_t seed = 10;
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Case& c : cases) {
      SCOPED_TRACE(tensor::shape_str(c.a) + " @ " + tensor::shape_str(c.b) + " " + tensor::dtype_name(dt));
      const Tensor a = normal(c.a, dt, seed++), b = normal(c.b, dt, seed++);
      check_matmul(a, b, cuda(a), cuda(b));
      if (a.dim() >= 2 && b.dim() >= 2) {
        check_matmul(a, b, cuda_transposed(a), cuda(b));
        check_matmul(a, b, cuda(a), cuda_transposed(b));
        check_matmul(a, b, cuda_transposed(a), cuda_transposed(b));
        check_matmul(a, b, cuda_gapped(a), cuda_gapped(b));
      }
    }
}

TEST(MatmulCuda, MmAndBmm) {
  PM_REQUIRE_GPU();
  for (DType dt : {DType::Float32, DType::Float64}) {
    const Tensor a = normal({64, 48}, dt, 1), b = normal({48, 80}, dt, 2);
    EXPECT_TRUE(matches_cpu(tensor::mm(cuda(a), cuda(b)), tensor::mm(a, b), tol(dt, 48), tol(dt, 48)));
    const Tensor x = normal({6, 32, 24}, dt, 3), y = normal({6, 24, 40}, dt, 4);
    EXPECT_TRUE(matches_cpu(tensor::bmm(cuda(x), cuda(y)), tensor::bmm(x, y), tol(dt, 24), tol(dt, 24)));
    // a batch of transposed views: y^T per batch element
    const Tensor yt = normal({6, 40, 24}, dt, 5);
    EXPECT_TRUE(matches_cpu(tensor::bmm(cuda(x), cuda(yt).transpose(1, 2)), tensor::bmm(x, yt.transpose(1, 2)),
                            tol(dt, 24), tol(dt, 24)));
  }
}

TEST(MatmulCuda, BatchLargerThanOneCublasCall) {
  PM_REQUIRE_GPU();
  const Tensor a = normal({70000, 2, 3}, DType::Float32, 6), b = normal({70000, 3, 2}, DType::Float32, 7);
  EXPECT_TRUE(matches_cpu(tensor::bmm(cuda(a), cuda(b)), tensor::bmm(a, b), 1e-5, 1e-5));
}

TEST(MatmulCuda, EmptyInnerDimGivesZeros) {
  PM_REQUIRE_GPU();
  for (DType dt : {DType::Float32, DType::Float64}) {
    const Tensor a = tensor::zeros({3, 0}, dt), b = tensor::zeros({0, 4}, dt);
    EXPECT_TRUE(pm_gpu_test::equals_cpu(tensor::matmul(cuda(a), cuda(b)), tensor::zeros({3, 4}, dt)));
    const Tensor x = tensor::zeros({2, 3, 0}, dt), y = tensor::zeros({2, 0, 5}, dt);
    EXPECT_TRUE(pm_gpu_test::equals_cpu(tensor::bmm(cuda(x), cuda(y)), tensor::zeros({2, 3, 5}, dt)));
  }
}

TEST(MatmulCuda, LargeSquareFloat32IsAccurateWithoutTf32) {
  PM_REQUIRE_GPU();
  ASSERT_FALSE(tensor::cuda::allow_tf32()) << "TF32 must be off by default";
  const Tensor a = normal({512, 512}, DType::Float32, 8), b = normal({512, 512}, DType::Float32, 9);
  // the float64 product of the same float32 values is the reference
  const Tensor want = tensor::matmul(a.to(DType::Float64), b.to(DType::Float64)).to(DType::Float32);
  EXPECT_TRUE(matches_cpu(tensor::matmul(cuda(a), cuda(b)), want, 1e-4, 2e-4));
}

TEST(MatmulCuda, Tf32OnlyBehindItsFlag) {
  PM_REQUIRE_GPU();
  struct Reset {
    ~Reset() { tensor::cuda::set_allow_tf32(false); }
  } reset;
  const Tensor a = normal({256, 384}, DType::Float32, 11), b = normal({384, 192}, DType::Float32, 12);
  const Tensor want = tensor::matmul(a.to(DType::Float64), b.to(DType::Float64)).to(DType::Float32);
  tensor::cuda::set_allow_tf32(true);
  const Tensor tf32 = tensor::matmul(cuda(a), cuda(b));
  // TF32 keeps 10 mantissa bits: errors near 1e-3 relative to the sum of |a||b| (about sqrt(K) here)
  EXPECT_TRUE(matches_cpu(tf32, want, 1e-2, 0.1));
  tensor::cuda::set_allow_tf32(false);
  EXPECT_TRUE(matches_cpu(tensor::matmul(cuda(a), cuda(b)), want, 1e-4, 2e-4));
  // float64 products ignore the flag
  tensor::cuda::set_allow_tf32(true);
  const Tensor a64 = a.to(DType::Float64), b64 = b.to(DType::Float64);
  EXPECT_TRUE(matches_cpu(tensor::matmul(cuda(a64), cuda(b64)), tensor::matmul(a64, b64), 1e-12, 1e-11));
}

TEST(MatmulCuda, Deterministic) {
  PM_REQUIRE_GPU();
  const Tensor a = cuda(normal({3, 96, 80}, DType::Float32, 13)), b = cuda(normal({80, 72}, DType::Float32, 14));
  const Tensor first = tensor::matmul(a, b).to(tensor::Device::cpu());
  EXPECT_TRUE(pm_gpu_test::equals_cpu(tensor::matmul(a, b), first));
}

TEST(MatmulCuda, Errors) {
  PM_REQUIRE_GPU();
  const Tensor a = cuda(tensor::zeros({2, 3})), b = cuda(tensor::zeros({4, 5}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::matmul(a, b); }, {"matmul: shapes [2, 3] and [4, 5] cannot be multiplied"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::matmul(a, tensor::zeros({3, 2})); },
                                   {"matmul: expected tensors on the same device", "cuda:0", "cpu"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::matmul(a, cuda(tensor::zeros({3, 2}, DType::Float64))); },
                                   {"matmul: expected the same dtype"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::bmm(cuda(tensor::zeros({2, 3, 4})), cuda(tensor::zeros({3, 4, 5}))); },
                                   {"bmm: batch sizes of shapes [2, 3, 4] and [3, 4, 5] differ"}));
  EXPECT_TRUE(pm_test::throws_with(
      [&] { tensor::matmul(cuda(tensor::zeros({2, 2, 3})), cuda(tensor::zeros({3, 3, 4}))); },
      {"matmul: batch dims of shapes [2, 2, 3] and [3, 3, 4] do not broadcast"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::mm(cuda(tensor::zeros({2, 3, 4})), b); },
                                   {"mm: expected 2-d operands"}));
}

}  // namespace
