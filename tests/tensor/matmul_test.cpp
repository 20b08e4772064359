// matmul_test.cpp: matmul, mm, bmm and the CPU GEMMs behind them, checked against a naive triple loop
// in double: many shapes (odd sizes around the kernel's tile and block edges), transposed and
// non-contiguous views, batched and broadcast operands, vector operands, the fallback kernel against
// BLAS, alpha/beta semantics, and the error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "common/test_util.h"
#include "tensor/cpu/gemm.h"
#include "tensor/ops.h"

namespace {
using tensor::DType;
using tensor::Generator;
using tensor::Shape;
using tensor::Tensor;

// torch.matmul by definition: promote vectors, broadcast the batch, triple loop in double.
Tensor reference_matmul(const Tensor& a, const Tensor& b) {
  const Tensor A = a.dim() == 1 ? a.unsqueeze(0) : a, B = b.dim() == 1 ? b.unsqueeze(1) : b;
  const int64_t M = A.size(-2), K = A.size(-1), N = B.size(-1);
  const Shape batch = tensor::broadcast_shapes(Shape(A.shape().begin(), A.shape().end() - 2),
                                               Shape(B.shape().begin(), B.shape().end() - 2), "reference");
  Shape sa = batch, sb = batch, full = batch, result = batch;
  sa.insert(sa.end(), {M, K});
  sb.insert(sb.end(), {K, N});
  full.insert(full.end(), {M, N});
  if (a.dim() > 1) result.push_back(M);
  if (b.dim() > 1) result.push_back(N);
  const std::vector<double> va = A.expand(sa).to_vector(), vb = B.expand(sb).to_vector();
  const int64_t count = tensor::numel_of(batch);
  std::vector<double> vc(static_cast<size_t>(count * M * N), 0.0);
  for (int64_t t = 0; t < count; ++t)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t p = 0; p < K; ++p) s += va[(t * M + i) * K + p] * vb[(t * K + p) * N + j];
        vc[(t * M + i) * N + j] = s;
      }
  return tensor::from_vector<double>(vc, full).view(result);
}

// Compares matmul(a, b) with the reference; float32 gets a tolerance that grows with K.
::testing::AssertionResult matches_reference(const Tensor& a, const Tensor& b) {
  const Tensor got = tensor::matmul(a, b);
  if (got.dtype() != a.dtype()) return ::testing::AssertionFailure() << "result dtype changed";
  const Tensor want = reference_matmul(a, b);
  const int64_t K = a.size(-1);
  const bool f32 = a.dtype() == DType::Float32;
  const double tol = (f32 ? 2e-6 : 1e-13) * std::sqrt(static_cast<double>(K + 1)) * 4;
  return pm_test::tensors_close(got.to(DType::Float64), want, tol, tol);
}

// Restores the BLAS switch however a test leaves it.
struct BlasSwitch {
  explicit BlasSwitch(bool on) : saved(tensor::cpu::blas_enabled()) { tensor::cpu::set_blas_enabled(on); }
  ~BlasSwitch() { tensor::cpu::set_blas_enabled(saved); }
  bool saved;
};

Tensor randn(const Shape& s, DType dt, Generator& g) { return tensor::randn(s, dt, &g); }

// ---- shapes ----------------------------------------------------------------------------------------------

TEST(Matmul, OddSizesMatchNaiveLoop) {
  Generator g(1);
  const std::vector<int64_t> sizes = {1, 7, 33, 65, 129};
  for (DType dt : {DType::Float64, DType::Float32})
    for (int64_t m : sizes)
      for (int64_t n : sizes)
        for (int64_t k : sizes) {
          if ((m * 7 + n * 3 + k) % 2 == 1 && m * n * k > 1000) continue;  // a spread, not every triple
          SCOPED_TRACE(::testing::Message() << tensor::dtype_name(dt) << " m=" << m << " n=" << n << " k=" << k);
          EXPECT_TRUE(matches_reference(randn({m, k}, dt, g), randn({k, n}, dt, g)));
        }
}

TEST(Matmul, SizesPastEveryBlockEdgeBothPaths) {
  // Larger than the fallback's MC (240), KC (256) and wider than a few NR panels, with ragged edges.
  Generator g(2);
  for (bool blas : {true, false}) {
    BlasSwitch sw(blas);
    for (DType dt : {DType::Float64, DType::Float32}) {
      EXPECT_TRUE(matches_reference(randn({257, 531}, dt, g), randn({531, 97}, dt, g)));
      EXPECT_TRUE(matches_reference(randn({3, 70}, dt, g), randn({70, 4133}, dt, g)));  // past NC = 4096
    }
  }
}

TEST(Matmul, TransposedViewsAndStridedOperands) {
  Generator g(3);
  for (bool blas : {true, false}) {
    BlasSwitch sw(blas);
    for (DType dt : {DType::Float64, DType::Float32}) {
      const Tensor at = randn({37, 29}, dt, g).transpose(0, 1);  // [29, 37], strides (1, 29)
      const Tensor bt = randn({41, 37}, dt, g).transpose(0, 1);  // [37, 41], strides (1, 37)
      const Tensor a = randn({29, 37}, dt, g), b = randn({37, 41}, dt, g);
      EXPECT_TRUE(matches_reference(at, b));
      EXPECT_TRUE(matches_reference(a, bt));
      EXPECT_TRUE(matches_reference(at, bt));
      // row stride larger than the row (a column slice): still a row-major matrix with ld > cols
      EXPECT_TRUE(matches_reference(randn({29, 50}, dt, g).narrow(1, 5, 37), b));
      // every other column: no GEMM layout fits, matmul copies
      EXPECT_TRUE(matches_reference(randn({29, 74}, dt, g).slice(1, 0, 74, 2), b));
      // a batch of transposed matrices, and a transposed batch against a shared matrix
      EXPECT_TRUE(matches_reference(randn({3, 37, 29}, dt, g).transpose(1, 2), randn({3, 37, 41}, dt, g)));
      EXPECT_TRUE(matches_reference(randn({3, 37, 29}, dt, g).transpose(1, 2), b));
    }
  }
}

TEST(Matmul, BatchedAndBroadcast) {
  Generator g(4);
  for (bool blas : {true, false}) {
    BlasSwitch sw(blas);
    for (DType dt : {DType::Float64, DType::Float32}) {
      EXPECT_TRUE(matches_reference(randn({4, 5, 6}, dt, g), randn({4, 6, 7}, dt, g)));
      EXPECT_TRUE(matches_reference(randn({2, 1, 3, 4}, dt, g), randn({5, 4, 2}, dt, g)));
      EXPECT_TRUE(matches_reference(randn({2, 3, 4}, dt, g), randn({4, 5}, dt, g)));    // stacked rows
      EXPECT_TRUE(matches_reference(randn({3, 4}, dt, g), randn({2, 4, 5}, dt, g)));    // shared A
      EXPECT_TRUE(matches_reference(randn({256, 8, 9}, dt, g), randn({256, 9, 10}, dt, g)));  // parallel batch
      EXPECT_TRUE(matches_reference(randn({2, 70, 80}, dt, g), randn({2, 80, 90}, dt, g)));  // threaded GEMMs
      // an expanded (stride-0) batch dim and a sliced batch
      EXPECT_TRUE(matches_reference(randn({1, 5, 6}, dt, g).expand({3, 5, 6}), randn({3, 6, 2}, dt, g)));
      EXPECT_TRUE(matches_reference(randn({6, 5, 6}, dt, g).slice(0, 0, 6, 2), randn({6, 2}, dt, g)));
    }
  }
}

TEST(Matmul, VectorOperandsDropTheirDim) {
  Generator g(5);
  const Tensor v = randn({4}, DType::Float64, g), m = randn({4, 3}, DType::Float64, g);
  EXPECT_EQ(tensor::matmul(v, m).shape(), (Shape{3}));
  EXPECT_EQ(tensor::matmul(m.transpose(0, 1), v).shape(), (Shape{3}));
  EXPECT_EQ(tensor::matmul(v, v).shape(), (Shape{}));
  EXPECT_EQ(tensor::matmul(randn({2, 3, 4}, DType::Float64, g), v).shape(), (Shape{2, 3}));
  EXPECT_EQ(tensor::matmul(v, randn({2, 4, 5}, DType::Float64, g)).shape(), (Shape{2, 5}));
  EXPECT_TRUE(matches_reference(v, m));
  EXPECT_TRUE(matches_reference(m.transpose(0, 1), v));
  EXPECT_TRUE(matches_reference(v, v));
  EXPECT_TRUE(matches_reference(v.slice(0, 0, 4, 2), randn({2, 3}, DType::Float64, g)));  // strided vector
  EXPECT_TRUE(matches_reference(randn({2, 3, 4}, DType::Float32, g), randn({4}, DType::Float32, g)));
  EXPECT_TRUE(matches_reference(randn({4}, DType::Float32, g), randn({2, 4, 5}, DType::Float32, g)));
}

TEST(Matmul, EmptyDims) {
  const Tensor z = tensor::matmul(tensor::ones({3, 0}), tensor::ones({0, 4}));
  EXPECT_EQ(z.shape(), (Shape{3, 4}));
  EXPECT_TRUE(pm_test::tensors_close(z, tensor::zeros({3, 4})));
  EXPECT_EQ(tensor::matmul(tensor::ones({0, 5}), tensor::ones({5, 4})).shape(), (Shape{0, 4}));
  EXPECT_EQ(tensor::matmul(tensor::ones({2, 0, 3, 5}), tensor::ones({5, 4})).shape(), (Shape{2, 0, 3, 4}));
}

TEST(Matmul, MmAndBmm) {
  Generator g(6);
  const Tensor a = randn({5, 6}, DType::Float64, g), b = randn({6, 7}, DType::Float64, g);
  EXPECT_TRUE(pm_test::tensors_close(tensor::mm(a, b), reference_matmul(a, b), 1e-12, 1e-12));
  const Tensor ba = randn({3, 5, 6}, DType::Float64, g), bb = randn({3, 6, 7}, DType::Float64, g);
  EXPECT_TRUE(pm_test::tensors_close(tensor::bmm(ba, bb), reference_matmul(ba, bb), 1e-12, 1e-12));
}

// ---- the GEMMs directly ------------------------------------------------------------------------------------

// C = alpha * op(A) op(B) + beta * C by the definition, in double.
template <typename T>
std::vector<T> reference_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const std::vector<T>& a,
                              int64_t lda, const std::vector<T>& b, int64_t ldb, T beta, std::vector<T> c,
                              int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p)
        s += static_cast<double>(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
      T& cij = c[i * ldc + j];
      cij = static_cast<T>(alpha * s + (beta == T(0) ? 0.0 : static_cast<double>(beta) * cij));
    }
  return c;
}

template <typename T> std::vector<T> random_values(size_t n, Generator& g) {
  Tensor t = tensor::randn({static_cast<int64_t>(n)}, tensor::dtype_of<T>::value, &g);
  const T* p = t.data<T>();
  return std::vector<T>(p, p + n);
}

template <typename T> void check_gemm_semantics() {
  Generator g(7);
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const double tol = sizeof(T) == 4 ? 1e-4 : 1e-12;
  struct Dims { int64_t m, n, k; };
  for (bool use_fallback : {false, true})
    for (Dims d : {Dims{1, 1, 1}, Dims{1, 9, 5}, Dims{9, 1, 5}, Dims{13, 33, 1}, Dims{13, 33, 300}, Dims{250, 40, 17}})
      for (bool ta : {false, true})
        for (bool tb : {false, true})
          for (T beta : {T(0), T(1), T(-0.5)}) {
            SCOPED_TRACE(::testing::Message() << (use_fallback ? "fallback " : "gemm ") << d.m << "x" << d.n << "x"
                                              << d.k << " ta=" << ta << " tb=" << tb << " beta=" << beta);
            // Leading dimensions wider than the matrices, and C a sub-matrix whose margin must survive.
            const int64_t lda = (ta ? d.m : d.k) + 3, ldb = (tb ? d.k : d.n) + 2, ldc = d.n + 5;
            const auto a = random_values<T>(static_cast<size_t>((ta ? d.k : d.m) * lda), g);
            const auto b = random_values<T>(static_cast<size_t>((tb ? d.n : d.k) * ldb), g);
            auto c = random_values<T>(static_cast<size_t>(d.m * ldc), g);
            if (beta == T(0)) std::fill(c.begin(), c.end(), nan);  // beta == 0 must not read C
            const T alpha = T(1.5);
            auto want = reference_gemm<T>(ta, tb, d.m, d.n, d.k, alpha, a, lda, b, ldb, beta, c, ldc);
            if (use_fallback)
              tensor::cpu::gemm_fallback<T>(ta, tb, d.m, d.n, d.k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(),
                                            ldc);
            else
              tensor::cpu::gemm<T>(ta, tb, d.m, d.n, d.k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
            for (int64_t i = 0; i < d.m; ++i)
              for (int64_t j = 0; j < ldc; ++j) {
                const T got = c[i * ldc + j], exp = want[i * ldc + j];
                if (j >= d.n) {  // outside C: untouched (NaN stays NaN)
                  ASSERT_TRUE(std::isnan(exp) ? std::isnan(got) : got == exp) << "margin written at " << i << "," << j;
                  continue;
                }
                ASSERT_NEAR(got, exp, tol * (1 + std::fabs(exp))) << "at " << i << "," << j;
              }
          }
}

TEST(Gemm, AlphaBetaEdgesAndTransposes) {
  check_gemm_semantics<float>();
  check_gemm_semantics<double>();
}

TEST(Gemm, FallbackSplitsFewLargeBlocksAcrossThreads) {
  // Shapes whose C is one or two cache blocks but whose depth makes them worth threading: the
  // fallback cuts them into narrower and shorter blocks. Each thread's partial work must still add up.
  Generator g(9);
  struct Dims { int64_t m, n, k; };
  for (Dims d : {Dims{30, 300, 2000}, Dims{250, 40, 3000}, Dims{13, 1000, 700}})
    for (bool ta : {false, true}) {
      SCOPED_TRACE(::testing::Message() << d.m << "x" << d.n << "x" << d.k << " ta=" << ta);
      const int64_t lda = ta ? d.m : d.k;
      const auto a = random_values<double>(static_cast<size_t>(d.m * d.k), g);
      const auto b = random_values<double>(static_cast<size_t>(d.k * d.n), g);
      std::vector<double> c(static_cast<size_t>(d.m * d.n), 1.0);
      const auto want = reference_gemm<double>(ta, false, d.m, d.n, d.k, 1.0, a, lda, b, d.n, 0.5, c, d.n);
      tensor::cpu::gemm_fallback<double>(ta, false, d.m, d.n, d.k, 1.0, a.data(), lda, b.data(), d.n, 0.5, c.data(),
                                         d.n);
      for (size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], want[i], 1e-10 * (1 + std::fabs(want[i]))) << i;
    }
}

TEST(Gemm, ZeroDepthScalesByBeta) {
  for (bool use_fallback : {false, true}) {
    std::vector<double> c = {1, 2, 3, 4};
    const double unused = 0;
    auto call = [&](double beta) {
      if (use_fallback)
        tensor::cpu::gemm_fallback<double>(false, false, 2, 2, 0, 1.0, &unused, 1, &unused, 2, beta, c.data(), 2);
      else
        tensor::cpu::gemm<double>(false, false, 2, 2, 0, 1.0, &unused, 1, &unused, 2, beta, c.data(), 2);
    };
    call(2.0);
    EXPECT_EQ(c, (std::vector<double>{2, 4, 6, 8}));
    c = {NAN, NAN, NAN, NAN};
    call(0.0);
    EXPECT_EQ(c, (std::vector<double>{0, 0, 0, 0}));
  }
}

TEST(Gemm, FallbackAgreesWithBlas) {
  if (!tensor::cpu::blas_available()) GTEST_SKIP() << "built without CBLAS: only the fallback exists";
  Generator g(8);
  for (DType dt : {DType::Float32, DType::Float64}) {
    const Tensor a = randn({300, 520}, dt, g), b = randn({520, 200}, dt, g), bt = randn({200, 520}, dt, g);
    const Tensor batch_a = randn({5, 40, 50}, dt, g), batch_b = randn({5, 50, 30}, dt, g);
    Tensor with_blas, without, with_blas_t, without_t, with_blas_b, without_b;
    {
      BlasSwitch sw(true);
      EXPECT_TRUE(tensor::cpu::blas_enabled());
      with_blas = tensor::matmul(a, b);
      with_blas_t = tensor::matmul(a, bt.transpose(0, 1));
      with_blas_b = tensor::matmul(batch_a, batch_b);
    }
    {
      BlasSwitch sw(false);
      EXPECT_FALSE(tensor::cpu::blas_enabled());
      without = tensor::matmul(a, b);
      without_t = tensor::matmul(a, bt.transpose(0, 1));
      without_b = tensor::matmul(batch_a, batch_b);
    }
    EXPECT_TRUE(tensor::cpu::blas_enabled());  // restored
    const double tol = dt == DType::Float32 ? 1e-4 : 1e-11;
    EXPECT_TRUE(pm_test::tensors_close(without, with_blas, tol, tol));
    EXPECT_TRUE(pm_test::tensors_close(without_t, with_blas_t, tol, tol));
    EXPECT_TRUE(pm_test::tensors_close(without_b, with_blas_b, tol, tol));
  }
}

// ---- errors ------------------------------------------------------------------------------------------------

TEST(Matmul, ErrorsNameTheOpAndBothShapes) {
  using pm_test::throws_with;
  const Tensor a = tensor::ones({2, 3}), b = tensor::ones({4, 5});
  EXPECT_TRUE(throws_with([&] { tensor::matmul(a, b); }, {"matmul: shapes [2, 3] and [4, 5] cannot be multiplied"}));
  EXPECT_TRUE(throws_with([&] { tensor::matmul(tensor::ones({3}), tensor::ones({4})); },
                          {"matmul: shapes [3] and [4] cannot be multiplied"}));
  EXPECT_TRUE(throws_with([&] { tensor::matmul(tensor::ones({2, 3, 4}), tensor::ones({3, 4, 5})); },
                          {"matmul: batch dims of shapes [2, 3, 4] and [3, 4, 5] do not broadcast"}));
  EXPECT_TRUE(throws_with([&] { tensor::matmul(tensor::ones({}), tensor::ones({3})); },
                          {"matmul: both operands need at least one dim", "[] and [3]"}));
  EXPECT_TRUE(throws_with([&] { tensor::matmul(tensor::ones({2, 3}), tensor::ones({3, 4}, DType::Float64)); },
                          {"matmul", "float32 [2, 3]", "float64 [3, 4]"}));
  EXPECT_TRUE(throws_with([&] { tensor::matmul(tensor::ones({2, 3}, DType::Int64), tensor::ones({3, 4}, DType::Int64)); },
                          {"matmul: expected float32 or float64 operands, got int64", "[2, 3] and [3, 4]"}));
  EXPECT_TRUE(throws_with([&] { tensor::matmul(Tensor(), a); }, {"matmul", "undefined"}));
  EXPECT_TRUE(throws_with([&] { tensor::mm(tensor::ones({2, 2, 3}), tensor::ones({3, 4})); },
                          {"mm: expected 2-d operands, got shapes [2, 2, 3] and [3, 4]"}));
  EXPECT_TRUE(throws_with([&] { tensor::mm(a, b); }, {"mm: shapes [2, 3] and [4, 5] cannot be multiplied"}));
  EXPECT_TRUE(throws_with([&] { tensor::bmm(tensor::ones({2, 3}), tensor::ones({2, 3, 4})); },
                          {"bmm: expected 3-d operands, got shapes [2, 3] and [2, 3, 4]"}));
  EXPECT_TRUE(throws_with([&] { tensor::bmm(tensor::ones({2, 2, 3}), tensor::ones({1, 3, 4})); },
                          {"bmm: batch sizes of shapes [2, 2, 3] and [1, 3, 4] differ"}));
  EXPECT_TRUE(throws_with([&] { tensor::bmm(tensor::ones({2, 2, 3}), tensor::ones({2, 4, 4})); },
                          {"bmm: shapes [2, 2, 3] and [2, 4, 4] cannot be multiplied"}));
}

}  // namespace
