// optim_update_test.cpp: the fused AdamW update (tensor::adamw_update_) against the same formula
// written as separate tensor ops, over several steps, in float64 and float32, for contiguous tensors
// (the fused loop) and strided views (the op-by-op path), plus every error message.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.h"
#include "tensor/ops.h"

namespace {
using pm_test::tensors_close;
using pm_test::throws_with;
using tensor::AdamWStep;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;
namespace T = tensor;

Tensor normal(const Shape& s, DType dt, uint64_t seed) {
  T::Generator g(seed);
  return T::randn(s, DType::Float64, &g).to(dt);
}

// PyTorch's single-tensor AdamW, one op per term: the oracle.
void adamw_oracle(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const AdamWStep& s) {
  const double bc1 = 1 - std::pow(s.beta1, double(s.step)), bc2 = 1 - std::pow(s.beta2, double(s.step));
  T::mul_(p, 1 - s.lr * s.weight_decay);
  T::mul_(m, s.beta1);
  T::add_(m, g, 1 - s.beta1);
  T::mul_(v, s.beta2);
  T::add_(v, T::mul(T::mul(g, 1 - s.beta2), g));
  Tensor denom = T::add(T::div(T::sqrt(v), T::scalar_tensor(std::sqrt(bc2), p.dtype())), s.eps);
  T::add_(p, T::div(T::mul(m, -s.lr / bc1), denom));
}

// Six updates with fresh gradients, fused and by the oracle, comparing every state after each.
void expect_matches_oracle(DType dt, bool strided, double rtol, double atol) {
  const Shape shape = strided ? Shape{7, 9} : Shape{5, 37};
  auto make = [&](uint64_t seed) { return strided ? normal({9, 7}, dt, seed).transpose(0, 1) : normal(shape, dt, seed); };
  Tensor p = make(1), m = T::zeros(shape, dt), v = T::zeros(shape, dt);
  if (strided) m = T::zeros({9, 7}, dt).transpose(0, 1), v = T::zeros({9, 7}, dt).transpose(0, 1);
  Tensor p_ref = p.clone(), m_ref = m.clone(), v_ref = v.clone();
  AdamWStep s;
  s.lr = 3e-2, s.weight_decay = 0.1, s.beta1 = 0.8, s.beta2 = 0.95, s.eps = 1e-6;
  for (int t = 1; t <= 6; ++t) {
    s.step = t;
    Tensor g = make(100 + t);
    T::adamw_update_(p, g, m, v, s);
    adamw_oracle(p_ref, g, m_ref, v_ref, s);
    ASSERT_TRUE(tensors_close(p, p_ref, rtol, atol)) << "param after step " << t;
    ASSERT_TRUE(tensors_close(m, m_ref, rtol, atol)) << "exp_avg after step " << t;
    ASSERT_TRUE(tensors_close(v, v_ref, rtol, atol)) << "exp_avg_sq after step " << t;
  }
}

TEST(AdamWUpdate, FusedMatchesTheOpByOpFormulaInFloat64) { expect_matches_oracle(DType::Float64, false, 1e-14, 1e-16); }
TEST(AdamWUpdate, FusedMatchesTheOpByOpFormulaInFloat32) { expect_matches_oracle(DType::Float32, false, 1e-6, 1e-6); }  // cancellation: absolute
TEST(AdamWUpdate, StridedViewsTakeTheOpByOpPath) { expect_matches_oracle(DType::Float64, true, 1e-14, 1e-16); }

TEST(AdamWUpdate, LargeTensorRunsInParallelAndStillMatches) {
  const Shape shape{300, 1000};  // past the parallel grain
  Tensor p = normal(shape, DType::Float64, 3), g = normal(shape, DType::Float64, 4);
  Tensor m = normal(shape, DType::Float64, 5), v = T::abs(normal(shape, DType::Float64, 6));
  Tensor p_ref = p.clone(), m_ref = m.clone(), v_ref = v.clone();
  AdamWStep s;
  s.step = 12;
  T::adamw_update_(p, g, m, v, s);
  adamw_oracle(p_ref, g, m_ref, v_ref, s);
  EXPECT_TRUE(tensors_close(p, p_ref, 1e-14, 1e-16));
  EXPECT_TRUE(tensors_close(v, v_ref, 1e-14, 1e-16));
}

TEST(AdamWUpdate, EmptyTensorIsANoOp) {
  Tensor e = T::zeros({0, 4}, DType::Float32);
  EXPECT_NO_THROW(T::adamw_update_(e, e.clone(), e.clone(), e.clone(), AdamWStep{}));
}

TEST(AdamWUpdate, ErrorsNameTheOperand) {
  Tensor p = T::zeros({3}, DType::Float32);
  EXPECT_TRUE(throws_with([&] { T::adamw_update_(p, T::zeros({4}, DType::Float32), p.clone(), p.clone(), {}); },
                          {"adamw_update_", "grad", "[4]", "[3]"}));
  EXPECT_TRUE(throws_with([&] { T::adamw_update_(p, p.clone(), T::zeros({3}, DType::Float64), p.clone(), {}); },
                          {"adamw_update_"}));
  EXPECT_TRUE(throws_with([&] { T::adamw_update_(p, p.clone(), p.clone(), Tensor(), {}); },
                          {"adamw_update_", "exp_avg_sq"}));
  Tensor i = T::zeros({3}, DType::Int32);
  EXPECT_TRUE(throws_with([&] { T::adamw_update_(i, i.clone(), i.clone(), i.clone(), {}); },
                          {"adamw_update_", "float32 or float64"}));
  AdamWStep s;
  s.step = 0;
  EXPECT_TRUE(throws_with([&] { T::adamw_update_(p, p.clone(), p.clone(), p.clone(), s); }, {"step must be >= 1"}));
}

}  // namespace
