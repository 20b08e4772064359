// nn_ops_test.cpp: the fused conv2d, rms_norm, layer_norm and cross_entropy against composites
// built from differentiable elementwise/reduce/view ops (the oracle for forward values and
// gradients), float32 vs float64, non-contiguous inputs, and every error message.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "common/test_util.h"
#include "tensor/cpu/gemm.h"

namespace {
using autograd::Variable;
using tensor::Conv2dParams;
using tensor::CrossEntropyOptions;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;
namespace A = autograd;

Conv2dParams conv(int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  Conv2dParams p;
  p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw;
  return p;
}

// ---- oracles ------------------------------------------------------------------------------------

// Convolution as a sum over kernel taps: out += sum_c xpad[:, c, i::sh, j::sw] * w[:, c, i, j].
// xpad is the already padded input (a leaf, so its gradient holds dx around a padding border).
Variable conv2d_composite(const Variable& xpad, const Variable& w, const Variable& bias, const Conv2dParams& p) {
  const int64_t O = w.size(0), C = w.size(1), kh = w.size(2), kw = w.size(3);
  const int64_t Ho = (xpad.size(2) - kh) / p.stride_h + 1, Wo = (xpad.size(3) - kw) / p.stride_w + 1;
  Variable out;
  for (int64_t i = 0; i < kh; ++i)
    for (int64_t j = 0; j < kw; ++j) {
      Variable patch = A::slice(xpad, 2, i, i + p.stride_h * (Ho - 1) + 1, p.stride_h);
      patch = A::slice(patch, 3, j, j + p.stride_w * (Wo - 1) + 1, p.stride_w);  // [B, C, Ho, Wo]
      Variable wij = A::reshape(A::select(A::select(w, 3, j), 2, i), {1, O, C, 1, 1});
      Variable term = A::sum(A::mul(A::unsqueeze(patch, 1), wij), {2});  // [B, O, Ho, Wo]
      out = out.defined() ? A::add(out, term) : term;
    }
  if (bias.defined()) out = A::add(out, A::reshape(bias, {1, O, 1, 1}));
  return out;
}

Tensor pad_hw(const Tensor& x, int64_t ph, int64_t pw) {
  Tensor out = tensor::zeros({x.size(0), x.size(1), x.size(2) + 2 * ph, x.size(3) + 2 * pw}, x.dtype());
  out.narrow(2, ph, x.size(2)).narrow(3, pw, x.size(3)).copy_(x);
  return out;
}

Variable rms_norm_composite(const Variable& x, const Variable& w, double eps) {
  Variable y = A::mul(x, A::rsqrt(A::add(A::mean(A::mul(x, x), {-1}, true), eps)));
  return w.defined() ? A::mul(y, w) : y;
}

Variable layer_norm_composite(const Variable& x, const Variable& w, const Variable& b, double eps) {
  Variable xc = A::sub(x, A::mean(x, {-1}, true));
  Variable y = A::mul(xc, A::rsqrt(A::add(A::mean(A::mul(xc, xc), {-1}, true), eps)));
  if (w.defined()) y = A::mul(y, w);
  if (b.defined()) y = A::add(y, b);
  return y;
}

// -(1/n_valid) sum_i sum_c q_ic log_softmax(x)_ic with q = (1-e) onehot + e/C on valid rows, 0 on ignored.
Variable cross_entropy_composite(const Variable& logits, const std::vector<int64_t>& t, const CrossEntropyOptions& o) {
  const int64_t N = logits.size(0), C = logits.size(1);
  std::vector<double> q(static_cast<size_t>(N * C), 0.0);
  int64_t n_valid = 0;
  for (int64_t i = 0; i < N; ++i) {
    if (t[i] == o.ignore_index) continue;
    ++n_valid;
    for (int64_t c = 0; c < C; ++c) q[i * C + c] = (c == t[i] ? 1 - o.label_smoothing : 0) + o.label_smoothing / C;
  }
  Variable Q(tensor::from_vector(q, {N, C}).to(logits.dtype()));
  return A::mul(A::sum(A::mul(A::log_softmax(logits, 1), Q)), -1.0 / static_cast<double>(n_valid));
}

Tensor targets(const std::vector<int64_t>& t) { return tensor::from_vector(t, {static_cast<int64_t>(t.size())}); }

// ---- conv2d -------------------------------------------------------------------------------------

struct ConvCase {
  Shape x, w;
  bool bias;
  Conv2dParams p;
};

void check_conv_against_composite(const ConvCase& c, uint64_t seed) {
  SCOPED_TRACE("x " + tensor::shape_str(c.x) + " w " + tensor::shape_str(c.w) + " stride " +
               std::to_string(c.p.stride_h) + "," + std::to_string(c.p.stride_w) + " pad " +
               std::to_string(c.p.pad_h) + "," + std::to_string(c.p.pad_w) + (c.bias ? " bias" : ""));
  tensor::Generator g(seed);
  Tensor x = tensor::randn(c.x, DType::Float64, &g), w = tensor::randn(c.w, DType::Float64, &g);
  Tensor b = c.bias ? tensor::randn({c.w[0]}, DType::Float64, &g) : Tensor();
  Variable vx(x, true), vw(w, true), vb = c.bias ? Variable(b, true) : Variable();
  Variable y = A::conv2d(vx, vw, vb, c.p);
  Tensor G = tensor::randn(y.shape(), DType::Float64, &g);
  y.backward(G);

  Variable xpad(pad_hw(x, c.p.pad_h, c.p.pad_w), true), cw(w, true), cb = c.bias ? Variable(b, true) : Variable();
  Variable yr = conv2d_composite(xpad, cw, cb, c.p);
  yr.backward(G);
  EXPECT_TRUE(pm_test::tensors_close(y.data(), yr.data(), 1e-10, 1e-10));
  Tensor dx_ref = xpad.grad().narrow(2, c.p.pad_h, c.x[2]).narrow(3, c.p.pad_w, c.x[3]);
  EXPECT_TRUE(pm_test::tensors_close(vx.grad(), dx_ref, 1e-10, 1e-10));
  EXPECT_TRUE(pm_test::tensors_close(vw.grad(), cw.grad(), 1e-10, 1e-10));
  if (c.bias) {
    EXPECT_TRUE(pm_test::tensors_close(vb.grad(), cb.grad(), 1e-10, 1e-10));
  }
}

TEST(Conv2d, MatchesCompositeForwardAndGradients) {
  const std::vector<ConvCase> cases = {
      {{2, 3, 7, 6}, {4, 3, 3, 3}, true, conv(2, 2, 1, 1)},
      {{2, 3, 7, 6}, {4, 3, 3, 3}, false, conv(1, 1, 0, 0)},
      {{1, 2, 5, 7}, {3, 2, 2, 3}, true, conv(1, 2, 2, 0)},
      {{2, 1, 6, 5}, {2, 1, 4, 3}, false, conv(2, 3, 0, 1)},
      {{3, 2, 4, 4}, {5, 2, 1, 1}, true, conv(1, 1, 0, 0)},     // 1x1 kernel
      {{1, 1, 3, 3}, {1, 1, 5, 5}, true, conv(1, 1, 1, 1)},     // kernel larger than the input
      {{2, 3, 32, 32}, {8, 3, 16, 16}, true, conv(16, 16, 0, 0)},  // patch embedding
      {{2, 3, 32, 32}, {8, 3, 16, 16}, false, conv(8, 8, 0, 0)},   // overlapping patches
      {{2, 3, 34, 30}, {8, 3, 16, 16}, true, conv(16, 8, 2, 1)},   // rows left over, padding
  };
  uint64_t seed = 1;
  for (const auto& c : cases) check_conv_against_composite(c, seed++);
}

TEST(Conv2d, BatchLargeEnoughToRunInParallelMatchesComposite) {
  check_conv_against_composite({{8, 3, 32, 32}, {16, 3, 8, 8}, true, conv(4, 4, 2, 2)}, 99);
}

TEST(Conv2d, SameResultThroughTheFallbackGemm) {
  tensor::Generator g(98);
  Tensor x = tensor::randn({3, 2, 11, 9}, DType::Float64, &g), w = tensor::randn({5, 2, 3, 4}, DType::Float64, &g);
  const Conv2dParams p = conv(2, 2, 1, 1);
  Tensor y = tensor::conv2d(x, w, Tensor(), p);
  ASSERT_EQ(y.shape(), (Shape{3, 5, 6, 4}));
  Tensor G = tensor::randn(y.shape(), DType::Float64, &g);
  auto r = tensor::conv2d_backward(G, x, w, false, p);
  const bool was = tensor::cpu::blas_enabled();
  tensor::cpu::set_blas_enabled(false);
  Tensor yf = tensor::conv2d(x, w, Tensor(), p);
  auto rf = tensor::conv2d_backward(G, x, w, false, p);
  tensor::cpu::set_blas_enabled(was);
  EXPECT_TRUE(pm_test::tensors_close(yf, y, 1e-12, 1e-12));
  EXPECT_TRUE(pm_test::tensors_close(rf.dx, r.dx, 1e-12, 1e-12));
  EXPECT_TRUE(pm_test::tensors_close(rf.dw, r.dw, 1e-12, 1e-12));
}

TEST(Conv2d, OutputShapeAndKnownValue) {
  // one channel, 3x3 ones kernel over a 4x4 ramp with padding 1: the centre sums its neighbours
  Tensor x = tensor::arange(0, 16, 1, DType::Float64).view({1, 1, 4, 4});
  Tensor w = tensor::ones({1, 1, 3, 3}, DType::Float64);
  Tensor y = tensor::conv2d(x, w, tensor::full({1}, 0.5, DType::Float64), conv(1, 1, 1, 1));
  ASSERT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
  EXPECT_DOUBLE_EQ(y.at({0, 0, 1, 1}), 0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10 + 0.5);
  EXPECT_DOUBLE_EQ(y.at({0, 0, 0, 0}), 0 + 1 + 4 + 5 + 0.5);
  EXPECT_EQ(tensor::conv2d(x, w, Tensor(), conv(2, 3, 0, 0)).shape(), (Shape{1, 1, 1, 1}));
  EXPECT_EQ(tensor::conv2d(tensor::zeros({2, 3, 224, 224}), tensor::zeros({192, 3, 16, 16}), Tensor(), conv(16, 16, 0, 0)).shape(),
            (Shape{2, 192, 14, 14}));
}

TEST(Conv2d, Float32AgreesWithFloat64) {
  tensor::Generator g(5);
  Tensor x = tensor::randn({2, 3, 20, 18}, DType::Float64, &g), w = tensor::randn({6, 3, 4, 4}, DType::Float64, &g);
  Tensor b = tensor::randn({6}, DType::Float64, &g);
  const Conv2dParams p = conv(2, 3, 1, 2);
  Tensor y64 = tensor::conv2d(x, w, b, p);
  Tensor y32 = tensor::conv2d(x.to(DType::Float32), w.to(DType::Float32), b.to(DType::Float32), p);
  EXPECT_EQ(y32.dtype(), DType::Float32);
  EXPECT_TRUE(pm_test::tensors_close(y32.to(DType::Float64), y64, 1e-4, 1e-4));
  Tensor G = tensor::randn(y64.shape(), DType::Float64, &g);
  auto r64 = tensor::conv2d_backward(G, x, w, true, p);
  auto r32 = tensor::conv2d_backward(G.to(DType::Float32), x.to(DType::Float32), w.to(DType::Float32), true, p);
  EXPECT_TRUE(pm_test::tensors_close(r32.dx.to(DType::Float64), r64.dx, 1e-4, 1e-4));
  EXPECT_TRUE(pm_test::tensors_close(r32.dw.to(DType::Float64), r64.dw, 1e-4, 1e-3));
  EXPECT_TRUE(pm_test::tensors_close(r32.dbias.to(DType::Float64), r64.dbias, 1e-4, 1e-3));
}

TEST(Conv2d, NonContiguousInputsMatchContiguous) {
  tensor::Generator g(6);
  // x stored channels-last and permuted to [B, C, H, W]; w a transposed view; g an expanded view
  Tensor x_nhwc = tensor::randn({2, 9, 8, 3}, DType::Float64, &g);
  Tensor x = x_nhwc.permute({0, 3, 1, 2});
  Tensor w = tensor::randn({4, 3, 3, 3}, DType::Float64, &g).transpose(2, 3);
  Tensor b = tensor::randn({8}, DType::Float64, &g).slice(0, 0, 8, 2);
  ASSERT_FALSE(x.is_contiguous());
  ASSERT_FALSE(w.is_contiguous());
  ASSERT_FALSE(b.is_contiguous());
  const Conv2dParams p = conv(2, 1, 1, 0);
  Tensor y = tensor::conv2d(x, w, b, p);
  EXPECT_TRUE(pm_test::tensors_close(y, tensor::conv2d(x.contiguous(), w.contiguous(), b.contiguous(), p), 1e-12, 1e-12));
  Tensor G = tensor::randn({1, 4, 1, 1}, DType::Float64, &g).expand(y.shape());
  auto r = tensor::conv2d_backward(G, x, w, true, p);
  auto rc = tensor::conv2d_backward(G.contiguous(), x.contiguous(), w.contiguous(), true, p);
  EXPECT_TRUE(pm_test::tensors_close(r.dx, rc.dx, 1e-12, 1e-12));
  EXPECT_TRUE(pm_test::tensors_close(r.dw, rc.dw, 1e-12, 1e-12));
  EXPECT_TRUE(pm_test::tensors_close(r.dbias, rc.dbias, 1e-12, 1e-12));
}

TEST(Conv2d, BackwardComputesOnlyWhatIsAsked) {
  tensor::Generator g(7);
  Tensor x = tensor::randn({2, 3, 8, 8}, DType::Float64, &g), w = tensor::randn({4, 3, 4, 4}, DType::Float64, &g);
  const Conv2dParams p = conv(4, 4, 0, 0);
  Tensor G = tensor::randn({2, 4, 2, 2}, DType::Float64, &g);
  auto all = tensor::conv2d_backward(G, x, w, true, p);
  auto only_dw = tensor::conv2d_backward(G, x, w, false, p, /*need_dx=*/false, /*need_dw=*/true);
  EXPECT_FALSE(only_dw.dx.defined());
  EXPECT_FALSE(only_dw.dbias.defined());
  EXPECT_TRUE(pm_test::tensors_close(only_dw.dw, all.dw, 1e-14, 1e-14));
  auto only_dx = tensor::conv2d_backward(G, x, w, false, p, true, false);
  EXPECT_FALSE(only_dx.dw.defined());
  EXPECT_TRUE(pm_test::tensors_close(only_dx.dx, all.dx, 1e-14, 1e-14));

  // through autograd: an image that needs no gradient gets none, the weight does
  Variable vx(x), vw(w, true), vb(tensor::zeros({4}, DType::Float64), true);
  A::sum(A::conv2d(vx, vw, vb, p)).backward();
  EXPECT_FALSE(vx.grad().defined());
  EXPECT_TRUE(pm_test::tensors_close(vw.grad(), tensor::conv2d_backward(tensor::ones({2, 4, 2, 2}, DType::Float64), x, w, false, p).dw, 1e-12, 1e-12));
  EXPECT_TRUE(pm_test::tensors_close(vb.grad(), tensor::full({4}, 8.0, DType::Float64), 1e-14, 1e-14));
}

TEST(Conv2d, ErrorsNameTheOpAndShapes) {
  Tensor x = tensor::zeros({2, 3, 8, 8}), w = tensor::zeros({4, 3, 3, 3});
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d(x, tensor::zeros({4, 2, 3, 3}), Tensor(), {}); },
                                   {"conv2d", "[2, 3, 8, 8]", "[4, 2, 3, 3]", "channels"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d(tensor::zeros({3, 8, 8}), w, Tensor(), {}); },
                                   {"conv2d", "[B, C, H, W]", "[3, 8, 8]", "[4, 3, 3, 3]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d(x, w, tensor::zeros({3}), {}); },
                                   {"conv2d", "bias of shape [3]", "[4, 3, 3, 3]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d(tensor::zeros({1, 3, 2, 8}), w, Tensor(), {}); },
                                   {"conv2d", "kernel [3, 3]", "does not fit", "[1, 3, 2, 8]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d(x, w, Tensor(), conv(0, 1, 0, 0)); },
                                   {"conv2d", "stride (0, 1)"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d(x, w, Tensor(), conv(1, 1, -1, 0)); },
                                   {"conv2d", "padding (-1, 0)"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d(x, w.to(DType::Float64), Tensor(), {}); },
                                   {"conv2d", "float32", "float64"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d(x.to(DType::Int64), w.to(DType::Int64), Tensor(), {}); },
                                   {"conv2d", "float32 or float64", "int64"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d(Tensor(), w, Tensor(), {}); }, {"conv2d", "undefined"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::conv2d_backward(tensor::zeros({2, 4, 5, 6}), x, w, false, {}); },
                                   {"conv2d_backward", "gradient of shape [2, 4, 5, 6]", "[2, 4, 6, 6]"}));
}

// ---- rms_norm / layer_norm -----------------------------------------------------------------------

TEST(RmsNorm, MatchesCompositeForwardAndGradients) {
  const std::vector<std::pair<Shape, bool>> cases = {{{4, 7}, true}, {{4, 7}, false}, {{2, 3, 16}, true}, {{2, 3, 16}, false}, {{5}, true}};
  uint64_t seed = 20;
  for (const auto& [shape, has_w] : cases) {
    SCOPED_TRACE(tensor::shape_str(shape) + (has_w ? " with weight" : " without weight"));
    tensor::Generator g(seed++);
    Tensor x = tensor::randn(shape, DType::Float64, &g), w = tensor::randn({shape.back()}, DType::Float64, &g);
    Variable vx(x, true), vw = has_w ? Variable(w, true) : Variable();
    Variable rx(x, true), rw = has_w ? Variable(w, true) : Variable();
    Variable y = A::rms_norm(vx, vw, 1e-5), yr = rms_norm_composite(rx, rw, 1e-5);
    EXPECT_TRUE(pm_test::tensors_close(y.data(), yr.data(), 1e-12, 1e-12));
    Tensor G = tensor::randn(shape, DType::Float64, &g);
    y.backward(G);
    yr.backward(G);
    EXPECT_TRUE(pm_test::tensors_close(vx.grad(), rx.grad(), 1e-10, 1e-12));
    if (has_w) {
      EXPECT_TRUE(pm_test::tensors_close(vw.grad(), rw.grad(), 1e-10, 1e-12));
    }
  }
}

TEST(RmsNorm, ReturnsRstdPerRow) {
  Tensor x = tensor::from_vector<double>({3, 4, 0, 0, 1, 1}, {3, 2});
  auto f = tensor::rms_norm(x, Tensor(), 0.0);
  ASSERT_EQ(f.rstd.shape(), (Shape{3}));
  EXPECT_FALSE(f.mean.defined());
  EXPECT_NEAR(f.rstd.at({0}), 1 / std::sqrt(12.5), 1e-15);
  EXPECT_TRUE(std::isinf(f.rstd.at({1})));  // eps 0 on a zero row, as torch
  EXPECT_NEAR(f.y.at({2, 0}), 1.0, 1e-15);
  EXPECT_EQ(tensor::rms_norm(tensor::ones({5}), Tensor(), 1e-6).rstd.dim(), 0);
}

TEST(LayerNorm, MatchesCompositeForwardAndGradients) {
  struct C { Shape s; bool w, b; };
  const std::vector<C> cases = {{{4, 7}, true, true}, {{4, 7}, false, false}, {{2, 3, 16}, true, false},
                                {{2, 3, 16}, false, true}, {{6}, true, true}};
  uint64_t seed = 40;
  for (const auto& c : cases) {
    SCOPED_TRACE(tensor::shape_str(c.s) + (c.w ? " weight" : "") + (c.b ? " bias" : ""));
    tensor::Generator g(seed++);
    Tensor x = tensor::randn(c.s, DType::Float64, &g), w = tensor::randn({c.s.back()}, DType::Float64, &g),
           b = tensor::randn({c.s.back()}, DType::Float64, &g);
    Variable vx(x, true), vw = c.w ? Variable(w, true) : Variable(), vb = c.b ? Variable(b, true) : Variable();
    Variable rx(x, true), rw = c.w ? Variable(w, true) : Variable(), rb = c.b ? Variable(b, true) : Variable();
    Variable y = A::layer_norm(vx, vw, vb, 1e-5), yr = layer_norm_composite(rx, rw, rb, 1e-5);
    EXPECT_TRUE(pm_test::tensors_close(y.data(), yr.data(), 1e-12, 1e-12));
    Tensor G = tensor::randn(c.s, DType::Float64, &g);
    y.backward(G);
    yr.backward(G);
    EXPECT_TRUE(pm_test::tensors_close(vx.grad(), rx.grad(), 1e-10, 1e-12));
    if (c.w) {
      EXPECT_TRUE(pm_test::tensors_close(vw.grad(), rw.grad(), 1e-10, 1e-12));
    }
    if (c.b) {
      EXPECT_TRUE(pm_test::tensors_close(vb.grad(), rb.grad(), 1e-10, 1e-12));
    }
  }
}

TEST(LayerNorm, ReturnsMeanAndRstdPerRow) {
  Tensor x = tensor::from_vector<double>({1, 3, 5, 5}, {2, 2});
  auto f = tensor::layer_norm(x, Tensor(), Tensor(), 0.0);
  ASSERT_EQ(f.mean.shape(), (Shape{2}));
  EXPECT_DOUBLE_EQ(f.mean.at({0}), 2.0);
  EXPECT_DOUBLE_EQ(f.rstd.at({0}), 1.0);
  EXPECT_DOUBLE_EQ(f.y.at({0, 0}), -1.0);
  EXPECT_DOUBLE_EQ(f.mean.at({1}), 5.0);
}

TEST(Norms, Float32AgreesWithFloat64EvenWithALargeOffset) {
  tensor::Generator g(60);
  // values near 1000 with unit spread: a one-pass float32 variance would lose most digits
  Tensor x32 = tensor::add(tensor::randn({6, 256}, DType::Float32, &g), 1000.0);
  Tensor x64 = x32.to(DType::Float64);
  Tensor w = tensor::randn({256}, DType::Float64, &g), b = tensor::randn({256}, DType::Float64, &g);
  Tensor G = tensor::randn({6, 256}, DType::Float64, &g);
  auto f = DType::Float32;

  auto ln64 = tensor::layer_norm(x64, w, b, 1e-5);
  auto ln32 = tensor::layer_norm(x32, w.to(f), b.to(f), 1e-5);
  EXPECT_EQ(ln32.y.dtype(), f);
  EXPECT_TRUE(pm_test::tensors_close(ln32.y.to(DType::Float64), ln64.y, 1e-4, 1e-4));
  auto lg64 = tensor::layer_norm_backward(G, x64, w, ln64.mean, ln64.rstd, true);
  auto lg32 = tensor::layer_norm_backward(G.to(f), x32, w.to(f), ln32.mean, ln32.rstd, true);
  EXPECT_TRUE(pm_test::tensors_close(lg32.dx.to(DType::Float64), lg64.dx, 1e-3, 1e-4));
  EXPECT_TRUE(pm_test::tensors_close(lg32.dweight.to(DType::Float64), lg64.dweight, 1e-3, 1e-4));
  EXPECT_TRUE(pm_test::tensors_close(lg32.dbias.to(DType::Float64), lg64.dbias, 1e-5, 1e-5));

  Tensor xr32 = tensor::randn({6, 256}, DType::Float32, &g), xr64 = xr32.to(DType::Float64);
  auto rn64 = tensor::rms_norm(xr64, w, 1e-6);
  auto rn32 = tensor::rms_norm(xr32, w.to(f), 1e-6);
  EXPECT_TRUE(pm_test::tensors_close(rn32.y.to(DType::Float64), rn64.y, 1e-5, 1e-5));
  auto rg64 = tensor::rms_norm_backward(G, xr64, w, rn64.rstd);
  auto rg32 = tensor::rms_norm_backward(G.to(f), xr32, w.to(f), rn32.rstd);
  EXPECT_TRUE(pm_test::tensors_close(rg32.dx.to(DType::Float64), rg64.dx, 1e-4, 1e-5));
  EXPECT_TRUE(pm_test::tensors_close(rg32.dweight.to(DType::Float64), rg64.dweight, 1e-4, 1e-4));
}

TEST(Norms, NonContiguousInputsMatchContiguous) {
  tensor::Generator g(61);
  Tensor x = tensor::randn({8, 3, 5}, DType::Float64, &g).transpose(0, 2);  // [5, 3, 8], last dim strided
  Tensor w = tensor::randn({16}, DType::Float64, &g).slice(0, 0, 16, 2);
  Tensor b = tensor::randn({1}, DType::Float64, &g).expand({8});
  Tensor G = tensor::randn({5, 3, 8}, DType::Float64, &g).transpose(0, 1).contiguous().transpose(0, 1);
  ASSERT_FALSE(x.is_contiguous());
  ASSERT_FALSE(G.is_contiguous());
  auto xc = x.contiguous(), wc = w.contiguous(), bc = b.contiguous();

  auto rn = tensor::rms_norm(x, w, 1e-5), rnc = tensor::rms_norm(xc, wc, 1e-5);
  EXPECT_TRUE(pm_test::tensors_close(rn.y, rnc.y, 1e-14, 1e-14));
  auto rg = tensor::rms_norm_backward(G, x, w, rn.rstd), rgc = tensor::rms_norm_backward(G.contiguous(), xc, wc, rnc.rstd);
  EXPECT_TRUE(pm_test::tensors_close(rg.dx, rgc.dx, 1e-14, 1e-14));
  EXPECT_TRUE(pm_test::tensors_close(rg.dweight, rgc.dweight, 1e-14, 1e-14));

  auto ln = tensor::layer_norm(x, w, b, 1e-5), lnc = tensor::layer_norm(xc, wc, bc, 1e-5);
  EXPECT_TRUE(pm_test::tensors_close(ln.y, lnc.y, 1e-14, 1e-14));
  auto lg = tensor::layer_norm_backward(G, x, w, ln.mean, ln.rstd, true);
  auto lgc = tensor::layer_norm_backward(G.contiguous(), xc, wc, lnc.mean, lnc.rstd, true);
  EXPECT_TRUE(pm_test::tensors_close(lg.dx, lgc.dx, 1e-14, 1e-14));
  EXPECT_TRUE(pm_test::tensors_close(lg.dweight, lgc.dweight, 1e-14, 1e-14));
  EXPECT_TRUE(pm_test::tensors_close(lg.dbias, lgc.dbias, 1e-14, 1e-14));
}

TEST(Norms, ManyRowsRunInParallelAndMatchComposite) {
  tensor::Generator g(62);
  Tensor x = tensor::randn({64, 33, 48}, DType::Float64, &g), w = tensor::randn({48}, DType::Float64, &g);
  Variable vx(x, true), vw(w, true), rx(x, true), rw(w, true);
  Tensor G = tensor::randn(x.shape(), DType::Float64, &g);
  A::layer_norm(vx, vw, Variable(), 1e-5).backward(G);
  layer_norm_composite(rx, rw, Variable(), 1e-5).backward(G);
  EXPECT_TRUE(pm_test::tensors_close(vx.grad(), rx.grad(), 1e-9, 1e-11));
  EXPECT_TRUE(pm_test::tensors_close(vw.grad(), rw.grad(), 1e-9, 1e-10));
}

TEST(Norms, ErrorsNameTheOpAndShapes) {
  Tensor x = tensor::zeros({2, 4});
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::rms_norm(x, tensor::zeros({5}), 1e-5); },
                                   {"rms_norm", "weight of shape [5]", "[2, 4]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::layer_norm(x, tensor::zeros({4}), tensor::zeros({2, 4}), 1e-5); },
                                   {"layer_norm", "bias of shape [2, 4]", "[2, 4]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::layer_norm(x, tensor::zeros({4}, DType::Float64), Tensor(), 1e-5); },
                                   {"layer_norm", "float32", "float64"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::rms_norm(tensor::zeros({}), Tensor(), 1e-5); },
                                   {"rms_norm", "0-d"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::rms_norm(tensor::zeros({2, 4}, DType::Int64), Tensor(), 1e-5); },
                                   {"rms_norm", "int64"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::rms_norm_backward(tensor::zeros({2, 3}), x, Tensor(), tensor::zeros({2})); },
                                   {"rms_norm_backward", "gradient of shape [2, 3]", "[2, 4]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::rms_norm_backward(x, x, Tensor(), tensor::zeros({4})); },
                                   {"rms_norm_backward", "rstd of shape [4]", "expected [2]"}));
  EXPECT_TRUE(pm_test::throws_with(
      [&] { tensor::layer_norm_backward(x, x, Tensor(), Tensor(), tensor::zeros({2}), false); },
      {"layer_norm_backward", "mean", "undefined"}));
  EXPECT_TRUE(pm_test::throws_with([&] { A::rms_norm(Variable(), Variable(), 1e-5); }, {"rms_norm", "undefined"}));
}

// ---- cross_entropy -------------------------------------------------------------------------------

TEST(CrossEntropy, MatchesCompositeForwardAndGradients) {
  struct C { int64_t n, c; std::vector<int64_t> t; CrossEntropyOptions o; };
  CrossEntropyOptions plain, ign, smooth, both;
  ign.ignore_index = 2;
  smooth.label_smoothing = 0.2;
  both.label_smoothing = 0.1;
  const std::vector<C> cases = {
      {4, 5, {0, 4, 2, 2}, plain},
      {6, 3, {1, -100, 0, 2, -100, 1}, plain},
      {5, 4, {2, 0, 1, 2, 3}, ign},
      {3, 7, {6, 0, 3}, smooth},
      {5, 6, {5, -100, 1, -100, 0}, both},
      {4, 1, {0, 0, -100, 0}, smooth},  // one class: loss 0
  };
  uint64_t seed = 80;
  for (const auto& c : cases) {
    SCOPED_TRACE("[" + std::to_string(c.n) + ", " + std::to_string(c.c) + "] ignore " + std::to_string(c.o.ignore_index) +
                 " smoothing " + std::to_string(c.o.label_smoothing));
    tensor::Generator g(seed++);
    Tensor x = tensor::mul(tensor::randn({c.n, c.c}, DType::Float64, &g), 3.0);
    Variable vx(x, true), rx(x, true);
    Variable y = A::cross_entropy(vx, targets(c.t), c.o), yr = cross_entropy_composite(rx, c.t, c.o);
    EXPECT_EQ(y.dim(), 0);
    EXPECT_TRUE(pm_test::tensors_close(y.data(), yr.data(), 1e-12, 1e-12));
    Tensor G = tensor::scalar_tensor(0.7, DType::Float64);
    y.backward(G);
    yr.backward(G);
    EXPECT_TRUE(pm_test::tensors_close(vx.grad(), rx.grad(), 1e-10, 1e-12));
  }
}

TEST(CrossEntropy, KnownValuesAndStabilityForHugeLogits) {
  // uniform logits: -log(1/C) per row, whatever the target and smoothing
  Tensor zeros = tensor::zeros({3, 4}, DType::Float64);
  CrossEntropyOptions s;
  s.label_smoothing = 0.3;
  EXPECT_NEAR(tensor::cross_entropy(zeros, targets({0, 1, 3})).item<double>(), std::log(4.0), 1e-15);
  EXPECT_NEAR(tensor::cross_entropy(zeros, targets({0, 1, 3}), s).item<double>(), std::log(4.0), 1e-15);
  // shifting a row by a constant changes nothing, even far beyond exp's range (float32 too)
  tensor::Generator g(90);
  Tensor x = tensor::randn({4, 6}, DType::Float64, &g);
  Tensor t = targets({5, 0, 2, 2});
  for (DType dt : {DType::Float64, DType::Float32}) {
    Tensor base = tensor::cross_entropy(x.to(dt), t, s);
    Tensor shifted = tensor::cross_entropy(tensor::add(x, 1.0e4).to(dt), t, s);
    EXPECT_TRUE(std::isfinite(shifted.item<double>()));
    EXPECT_NEAR(shifted.item<double>(), base.item<double>(), dt == DType::Float64 ? 1e-9 : 2e-3);
    Tensor d = tensor::cross_entropy_backward(tensor::scalar_tensor(1.0, dt), tensor::add(x, -1.0e4).to(dt), t, s);
    EXPECT_TRUE(pm_test::tensors_close(d.to(DType::Float64), tensor::cross_entropy_backward(tensor::scalar_tensor(1.0, DType::Float64), x, t, s), 1e-2, 1e-3));
  }
}

TEST(CrossEntropy, AllRowsIgnoredGivesNaNLikePyTorchAndZeroGradient) {
  Tensor x = tensor::ones({2, 3}, DType::Float64);
  Variable vx(x, true);
  Variable y = A::cross_entropy(vx, targets({-100, -100}));
  EXPECT_TRUE(std::isnan(y.item<double>()));
  y.backward();
  EXPECT_TRUE(pm_test::tensors_close(vx.grad(), tensor::zeros({2, 3}, DType::Float64), 0, 0));
}

TEST(CrossEntropy, Float32AgreesWithFloat64) {
  tensor::Generator g(91);
  Tensor x = tensor::mul(tensor::randn({64, 100}, DType::Float64, &g), 4.0);
  std::vector<int64_t> tv;
  for (int64_t i = 0; i < 64; ++i) tv.push_back(i % 7 == 3 ? -100 : (i * 37) % 100);
  Tensor t = targets(tv);
  CrossEntropyOptions s;
  s.label_smoothing = 0.1;
  Tensor x32 = x.to(DType::Float32);
  Tensor l32 = tensor::cross_entropy(x32, t, s);
  EXPECT_EQ(l32.dtype(), DType::Float32);
  EXPECT_NEAR(l32.item<double>(), tensor::cross_entropy(x32.to(DType::Float64), t, s).item<double>(), 1e-5);
  Tensor d32 = tensor::cross_entropy_backward(tensor::scalar_tensor(2.0), x32, t, s);
  Tensor d64 = tensor::cross_entropy_backward(tensor::scalar_tensor(2.0, DType::Float64), x32.to(DType::Float64), t, s);
  EXPECT_TRUE(pm_test::tensors_close(d32.to(DType::Float64), d64, 1e-5, 1e-7));
}

TEST(CrossEntropy, NonContiguousLogitsAndTargets) {
  tensor::Generator g(92);
  Tensor x = tensor::randn({5, 4}, DType::Float64, &g).transpose(0, 1);  // [4, 5] column-major
  Tensor t = tensor::from_vector<int64_t>({3, 9, 0, 9, 4, 9, 1, 9}, {8}).slice(0, 0, 8, 2);
  ASSERT_FALSE(x.is_contiguous());
  ASSERT_FALSE(t.is_contiguous());
  EXPECT_NEAR(tensor::cross_entropy(x, t).item<double>(), tensor::cross_entropy(x.contiguous(), t.contiguous()).item<double>(), 1e-15);
  Tensor G = tensor::scalar_tensor(1.5, DType::Float64);
  EXPECT_TRUE(pm_test::tensors_close(tensor::cross_entropy_backward(G, x, t),
                                     tensor::cross_entropy_backward(G, x.contiguous(), t.contiguous()), 1e-15, 1e-15));
}

// The forward's per-row log-sum-exp (0 for ignored rows) and the backward that reuses it agree with
// the direct formula and with the backward that recomputes it.
TEST(CrossEntropy, RowLogSumExpFeedsTheBackward) {
  tensor::Generator gen(31);
  const Tensor x = tensor::randn({6, 9}, DType::Float64, &gen, 0.0, 3.0);
  const Tensor t = tensor::from_vector<int64_t>({1, -100, 8, 0, 4, -100}, {6});
  Tensor lse;
  const Tensor loss = tensor::cross_entropy(x, t, {-100, 0.2}, &lse);
  ASSERT_EQ(lse.shape(), (Shape{6}));
  const std::vector<double> xv = x.to_vector(), lv = lse.to_vector(), tv = t.to_vector();
  for (int i = 0; i < 6; ++i) {
    double m = -1e300, s = 0;
    for (int c = 0; c < 9; ++c) m = std::max(m, xv[i * 9 + c]);
    for (int c = 0; c < 9; ++c) s += std::exp(xv[i * 9 + c] - m);
    EXPECT_NEAR(lv[i], tv[i] == -100 ? 0.0 : m + std::log(s), 1e-12) << "row " << i;
  }
  const Tensor g = tensor::scalar_tensor(1.3, DType::Float64);
  const Tensor with = tensor::cross_entropy_backward(g, x, t, {-100, 0.2}, lse);
  const Tensor without = tensor::cross_entropy_backward(g, x, t, {-100, 0.2});
  const std::vector<double> a = with.to_vector(), b = without.to_vector();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-15) << i;
  EXPECT_TRUE(pm_test::throws_with(
      [&] { tensor::cross_entropy_backward(g, x, t, {}, tensor::zeros({5}, DType::Float64)); },
      {"cross_entropy_backward: row_lse of shape [5]", "expected [6]"}));
  (void)loss;
}

TEST(CrossEntropy, ErrorsNameTheOpShapesAndBadTarget) {
  Tensor x = tensor::zeros({3, 4});
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy(x, targets({0, 7, 1})); },
                                   {"cross_entropy", "target 7 at row 1", "4 classes"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy(x, targets({0, 1, -1})); },
                                   {"cross_entropy", "target -1 at row 2"}));
  EXPECT_THROW(tensor::cross_entropy(x, targets({0, 4, 1})), std::out_of_range);
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy(x, targets({0, 1})); },
                                   {"cross_entropy", "target of shape [2]", "[3, 4]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy(tensor::zeros({2, 3, 4}), targets({0, 1})); },
                                   {"cross_entropy", "[N, C]", "[2, 3, 4]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy(x, tensor::zeros({3})); },
                                   {"cross_entropy", "int64", "float32"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy(tensor::zeros({3, 0}), targets({0, 0, 0})); },
                                   {"cross_entropy", "[3, 0]", "no classes"}));
  CrossEntropyOptions bad;
  bad.label_smoothing = 1.5;
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy(x, targets({0, 1, 2}), bad); },
                                   {"cross_entropy", "label_smoothing", "1.5"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy_backward(tensor::zeros({3}), x, targets({0, 1, 2})); },
                                   {"cross_entropy_backward", "one-element gradient", "[3]"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cross_entropy(tensor::zeros({3, 4}, DType::Int64), targets({0, 1, 2})); },
                                   {"cross_entropy", "float32 or float64", "int64"}));
  // through autograd the same message
  EXPECT_TRUE(pm_test::throws_with([&] { A::cross_entropy(Variable(x, true), targets({0, 7, 1})); },
                                   {"cross_entropy", "target 7 at row 1"}));
}

TEST(NnOps, UndefinedInputsAreNullEdgesAndNothingIsRecordedWithoutGrad) {
  tensor::Generator g(95);
  Variable x(tensor::randn({2, 4}, DType::Float64, &g), true);
  Variable y = A::rms_norm(x, Variable(), 1e-5);
  ASSERT_TRUE(y.grad_fn());
  EXPECT_STREQ(y.grad_fn()->name(), "rms_norm");
  EXPECT_EQ(y.grad_fn()->next.size(), 2u);
  EXPECT_FALSE(y.grad_fn()->next[1]);  // the undefined weight is a null edge
  {
    A::NoGradGuard ng;
    EXPECT_FALSE(A::layer_norm(x, Variable(), Variable(), 1e-5).grad_fn());
  }
  Variable frozen(x.data());
  EXPECT_FALSE(A::cross_entropy(frozen, targets({0, 1})).requires_grad());
  EXPECT_STREQ(A::conv2d(Variable(tensor::zeros({1, 1, 2, 2}, DType::Float64), true),
                         Variable(tensor::zeros({1, 1, 1, 1}, DType::Float64)), Variable(), {})
                   .grad_fn()
                   ->name(),
               "conv2d");
}

}  // namespace
