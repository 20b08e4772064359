// ops_test.cpp: the CUDA elementwise, reduction, softmax and random kernels against the CPU, at the
// sizes and layouts that pick each kernel path: vector bodies and scalar tails, misaligned and
// strided views, broadcasting and single-element operands, integer dtypes, warp-, block- and
// split-row reductions, the column path, softmax rows in registers, in shared memory and read again
// from global memory, and grid-stride loops past the grid's cap. Also the integer division check,
// the NaN rules, and Philox draws that must equal the CPU's bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cuda/gpu_test_util.h"

namespace {
using pm_gpu_test::cuda;
using pm_gpu_test::equals_cpu;
using pm_gpu_test::matches_cpu;
using tensor::BinaryOp;
using tensor::CompareOp;
using tensor::Device;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;
using tensor::UnaryOp;

const DType kFloat[] = {DType::Float32, DType::Float64};
const DType kInt[] = {DType::Int32, DType::Int64, DType::UInt8};
const DType kAll[] = {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::UInt8};

// float32: a few ulps of transcendental functions; float64: rounding.
double rtol_for(DType dt) { return dt == DType::Float32 ? 2e-5 : (dt == DType::Float64 ? 1e-12 : 0.0); }
double atol_for(DType dt) { return dt == DType::Float32 ? 1e-6 : (dt == DType::Float64 ? 1e-13 : 0.0); }

Tensor normal(const Shape& s, DType dt, uint64_t seed, double scale = 1) {
  tensor::Generator g(seed);
  return tensor::randn(s, DType::Float64, &g, 0, scale).to(dt);
}
Tensor uniform(const Shape& s, DType dt, uint64_t seed, double lo, double hi) {
  tensor::Generator g(seed);
  return tensor::rand(s, DType::Float64, &g, lo, hi).to(dt);
}
// Integers in [lo, hi) in any dtype (lo >= 0 for uint8).
Tensor integers(const Shape& s, DType dt, uint64_t seed, int64_t lo, int64_t hi) {
  tensor::Generator g(seed);
  return tensor::randint(lo, hi, s, &g).to(dt);
}

// ---- layouts: the same values with different strides, built on the tensor's own device ----------

Tensor as_is(const Tensor& t) { return t; }
// Contiguous, but starting one element into a larger buffer: never 16-byte aligned.
Tensor misaligned(const Tensor& t) {
  Tensor buf = tensor::zeros({t.numel() + 1}, t.dtype(), t.device());
  Tensor v = buf.narrow(0, 1, t.numel()).view(t.shape());
  v.copy_(t);
  return v;
}
// Every other element of a buffer twice as wide in the last dim.
Tensor gapped(const Tensor& t) {
  if (t.dim() == 0) return t;
  Shape wide = t.shape();
  wide.back() *= 2;
  Tensor v = tensor::zeros(wide, t.dtype(), t.device()).slice(-1, 0, wide.back(), 2);
  v.copy_(t);
  return v;
}
// Column-major storage (transposed twice).
Tensor column_major(const Tensor& t) { return t.dim() < 2 ? gapped(t) : t.transpose(0, 1).contiguous().transpose(0, 1); }

struct Layout {
  const char* name;
  Tensor (*make)(const Tensor&);
};
const Layout kLayouts[] = {{"contiguous", as_is}, {"misaligned", misaligned}, {"gapped", gapped}, {"column-major", column_major}};

const UnaryOp kUnaryOps[] = {UnaryOp::Neg,   UnaryOp::Exp,     UnaryOp::Log,  UnaryOp::Log1p,    UnaryOp::Expm1,
                             UnaryOp::Sqrt,  UnaryOp::Rsqrt,   UnaryOp::Abs,  UnaryOp::Sigmoid,  UnaryOp::Tanh,
                             UnaryOp::Relu,  UnaryOp::Silu,    UnaryOp::Softplus, UnaryOp::Gelu, UnaryOp::Square,
                             UnaryOp::Sign};

bool needs_positive(UnaryOp op) {
  return op == UnaryOp::Log || op == UnaryOp::Log1p || op == UnaryOp::Sqrt || op == UnaryOp::Rsqrt;
}

// ---- elementwise -------------------------------------------------------------------------------------

TEST(CudaElementwise, UnaryOpsAndBackwardMatchCpuInEveryLayout) {
  PM_REQUIRE_GPU();
  for (DType dt : kFloat) {
    for (const Shape& shape : {Shape{}, Shape{1}, Shape{7}, Shape{33, 65}, Shape{2, 100003}}) {
      for (UnaryOp op : kUnaryOps) {
        SCOPED_TRACE(std::string(tensor::unary_name(op)) + " " + tensor::dtype_name(dt) + " " + tensor::shape_str(shape));
        // wide enough to reach softplus's threshold and exp's large values
        const Tensor x = needs_positive(op) ? uniform(shape, dt, 1, 0.05, 4.0) : normal(shape, dt, 2, 8.0);
        const Tensor g = normal(shape, dt, 3);
        const Tensor y = tensor::unary(op, x);
        for (const Layout& l : kLayouts) {
          SCOPED_TRACE(l.name);
          const Tensor xd = l.make(cuda(x)), gd = l.make(cuda(g));
          const Tensor yd = tensor::unary(op, xd);
          EXPECT_TRUE(matches_cpu(yd, y, rtol_for(dt), atol_for(dt)));
          EXPECT_TRUE(matches_cpu(tensor::unary_backward(op, gd, xd, l.make(cuda(y))),
                                  tensor::unary_backward(op, g, x, y), rtol_for(dt), atol_for(dt) * 10));
        }
      }
    }
  }
}

TEST(CudaElementwise, IntegerUnaryOps) {
  PM_REQUIRE_GPU();
  for (DType dt : kInt) {
    const Tensor x = dt == DType::UInt8 ? integers({5, 41}, dt, 4, 0, 256) : integers({5, 41}, dt, 4, -1000, 1000);
    for (UnaryOp op : {UnaryOp::Neg, UnaryOp::Abs, UnaryOp::Square, UnaryOp::Sign}) {
      SCOPED_TRACE(std::string(tensor::unary_name(op)) + " " + tensor::dtype_name(dt));
      for (const Layout& l : kLayouts) EXPECT_TRUE(equals_cpu(tensor::unary(op, l.make(cuda(x))), tensor::unary(op, x)));
    }
    EXPECT_TRUE(pm_test::throws_with([&] { tensor::exp(cuda(x)); }, {"exp", "float32 or float64", tensor::dtype_name(dt)}));
  }
}

TEST(CudaElementwise, BinaryOpsBroadcastAndEveryDtype) {
  PM_REQUIRE_GPU();
  const std::pair<Shape, Shape> shapes[] = {
      {{3, 4}, {3, 4}},        {{2, 1, 4}, {3, 1}},   {{5, 1}, {1, 6}},  {{100003}, {1}},
      {{1}, {1000}},           {{}, {7}},             {{4, 257}, {257}}, {{3, 1, 5}, {3, 2, 5}},
  };
  const BinaryOp ops[] = {BinaryOp::Add, BinaryOp::Sub,     BinaryOp::Mul,    BinaryOp::Div,
                          BinaryOp::Pow, BinaryOp::Maximum, BinaryOp::Minimum};
  for (DType dt : kAll) {
    for (const auto& [sa, sb] : shapes) {
      for (BinaryOp op : ops) {
        SCOPED_TRACE(std::string(tensor::binary_name(op)) + " " + tensor::dtype_name(dt) + " " + tensor::shape_str(sa) +
                     " x " + tensor::shape_str(sb));
        Tensor a, b;
        if (tensor::is_floating(dt)) {
          a = op == BinaryOp::Pow ? uniform(sa, dt, 5, 0.5, 2.0) : normal(sa, dt, 5);
          b = op == BinaryOp::Div ? uniform(sb, dt, 6, 0.5, 2.0) : normal(sb, dt, 6);
        } else {
          a = integers(sa, dt, 5, 0, op == BinaryOp::Pow ? 5 : 100);
          b = integers(sb, dt, 6, op == BinaryOp::Div ? 1 : 0, op == BinaryOp::Pow ? 4 : 100);
        }
        const Tensor want = tensor::binary(op, a, b);
        for (const Layout& l : kLayouts) {
          SCOPED_TRACE(l.name);
          EXPECT_TRUE(matches_cpu(tensor::binary(op, l.make(cuda(a)), l.make(cuda(b))), want, rtol_for(dt), atol_for(dt)));
        }
      }
    }
  }
}

TEST(CudaElementwise, ScalarFormsAndClamp) {
  PM_REQUIRE_GPU();
  for (DType dt : kFloat) {
    const Tensor x = normal({1001}, dt, 7), xd = cuda(x);
    const double r = rtol_for(dt), a = atol_for(dt);
    EXPECT_TRUE(matches_cpu(tensor::add(xd, 2.5), tensor::add(x, 2.5), r, a));
    EXPECT_TRUE(matches_cpu(tensor::mul(xd, -3.0), tensor::mul(x, -3.0), r, a));
    EXPECT_TRUE(matches_cpu(tensor::pow(tensor::abs(xd), 1.5), tensor::pow(tensor::abs(x), 1.5), r, a));
    EXPECT_TRUE(matches_cpu(tensor::clamp(xd, -0.5, 0.25), tensor::clamp(x, -0.5, 0.25), r, a));
    const Tensor mask = tensor::compare(CompareOp::Gt, x, tensor::zeros({}, dt));
    EXPECT_TRUE(matches_cpu(tensor::masked_fill(xd, cuda(mask), -7), tensor::masked_fill(x, mask, -7), r, a));
  }
}

TEST(CudaElementwise, IntegerDivisionByZeroIsCheckedFirst) {
  PM_REQUIRE_GPU();
  for (DType dt : kInt) {
    SCOPED_TRACE(tensor::dtype_name(dt));
    const Tensor a = cuda(integers({4, 5}, dt, 8, 1, 50));
    Tensor b = integers({4, 5}, dt, 9, 1, 50);
    EXPECT_NO_THROW(tensor::div(a, cuda(b)));
    Tensor bz = b.clone();
    bz.select(0, 2).select(0, 3).fill_(0);
    EXPECT_TRUE(pm_test::throws_with([&] { tensor::div(a, cuda(bz)); }, {"div", "integer division by zero", "[4, 5]"}));
    EXPECT_TRUE(pm_test::throws_with([&] { tensor::div(a, gapped(cuda(bz))); }, {"div", "integer division by zero"}));
  }
  // float division by zero is IEEE: inf, nan
  const Tensor q = tensor::div(cuda(tensor::from_vector<float>({1, -1, 0}, {3})), cuda(tensor::zeros({3})));
  EXPECT_TRUE(equals_cpu(q, tensor::div(tensor::from_vector<float>({1, -1, 0}, {3}), tensor::zeros({3}))));
}

TEST(CudaElementwise, NanRulesMatchCpu) {
  PM_REQUIRE_GPU();
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (DType dt : kFloat) {
    const Tensor a = tensor::from_vector<double>({nan, 1, nan, -inf, 2, 0}, {6}).to(dt);
    const Tensor b = tensor::from_vector<double>({1, nan, nan, 3, inf, -0.0}, {6}).to(dt);
    for (BinaryOp op : {BinaryOp::Maximum, BinaryOp::Minimum, BinaryOp::Add, BinaryOp::Pow})
      EXPECT_TRUE(equals_cpu(tensor::binary(op, cuda(a), cuda(b)), tensor::binary(op, a, b))) << tensor::binary_name(op);
    for (UnaryOp op : {UnaryOp::Relu, UnaryOp::Sign, UnaryOp::Abs, UnaryOp::Sigmoid, UnaryOp::Softplus})
      EXPECT_TRUE(matches_cpu(tensor::unary(op, cuda(a)), tensor::unary(op, a), rtol_for(dt), atol_for(dt))) << tensor::unary_name(op);
    for (CompareOp op : {CompareOp::Eq, CompareOp::Ne, CompareOp::Lt, CompareOp::Ge})
      EXPECT_TRUE(equals_cpu(tensor::compare(op, cuda(a), cuda(b)), tensor::compare(op, a, b)));
  }
}

TEST(CudaElementwise, CompareWhereAndInPlaceUpdates) {
  PM_REQUIRE_GPU();
  for (DType dt : kAll) {
    SCOPED_TRACE(tensor::dtype_name(dt));
    const Tensor a = integers({3, 1, 5}, dt, 10, 0, 4), b = integers({4, 5}, dt, 11, 0, 4);  // many ties
    for (CompareOp op : {CompareOp::Eq, CompareOp::Ne, CompareOp::Lt, CompareOp::Le, CompareOp::Gt, CompareOp::Ge})
      EXPECT_TRUE(equals_cpu(tensor::compare(op, gapped(cuda(a)), cuda(b)), tensor::compare(op, a, b)));
    const Tensor cond = tensor::compare(CompareOp::Gt, integers({5}, DType::Int64, 12, 0, 2), tensor::zeros({}, DType::Int64));
    const Tensor x = integers({4, 1}, dt, 13, 0, 50), y = integers({1, 5}, dt, 14, 50, 100);
    EXPECT_TRUE(equals_cpu(tensor::where(cuda(cond), cuda(x), cuda(y)), tensor::where(cond, x, y)));
    EXPECT_TRUE(equals_cpu(tensor::where(cuda(cond), misaligned(cuda(x)), cuda(y)), tensor::where(cond, x, y)));

    // add_ into strided destinations from broadcast sources; mul_ in place
    for (double alpha : {1.0, 2.0}) {
      Tensor dst = integers({6, 5}, dt, 15, 0, 20), src = integers({5}, dt, 16, 0, 20);
      Tensor dd = gapped(cuda(dst));
      tensor::add_(dd, cuda(src), alpha);
      tensor::add_(dst, src, alpha);
      EXPECT_TRUE(equals_cpu(dd.contiguous(), dst));
      Tensor dt_view = column_major(cuda(dst));
      tensor::add_(dt_view, cuda(dst), alpha);
      tensor::add_(dst, dst.clone(), alpha);
      EXPECT_TRUE(equals_cpu(dt_view.contiguous(), dst));
    }
    Tensor m = integers({7, 9}, dt, 17, 0, 20), md = misaligned(cuda(m));
    tensor::mul_(md, 3);
    tensor::mul_(m, 3);
    EXPECT_TRUE(equals_cpu(md, m));
  }
  Tensor f = normal({1000}, DType::Float32, 18), fd = cuda(f);
  tensor::add_(fd, cuda(normal({1000}, DType::Float32, 19)), 0.5);
  tensor::add_(f, normal({1000}, DType::Float32, 19), 0.5);
  EXPECT_TRUE(matches_cpu(fd, f, 1e-6, 1e-7));
}

TEST(CudaElementwise, GridStrideLoopsPastTheGridCap) {
  PM_REQUIRE_GPU();
  // the grid is capped at 65535 blocks of 256 threads: more vectors (4 floats each) than that
  const int64_t n = 65535LL * 256 * 4 + 13;
  const Tensor a = uniform({n}, DType::Float32, 20, -1, 1), b = uniform({n}, DType::Float32, 21, -1, 1);
  EXPECT_TRUE(equals_cpu(tensor::add(cuda(a), cuda(b)), tensor::add(a, b)));
  // and more elements than threads on the strided path
  const Tensor s = a.narrow(0, 0, 65535LL * 256 + 5);
  EXPECT_TRUE(equals_cpu(tensor::neg(gapped(cuda(s))), tensor::neg(s)));
  EXPECT_TRUE(equals_cpu(tensor::full({n}, 1.5, DType::Float32, Device::cuda()), tensor::full({n}, 1.5)));
}

// ---- reductions --------------------------------------------------------------------------------------

TEST(CudaReduce, SumAndMeanRowsAtEveryPathSize) {
  PM_REQUIRE_GPU();
  // (outer, R): empty rows, warp rows, block rows, split rows
  const std::pair<int64_t, int64_t> sizes[] = {{1, 0},    {3, 0},   {1, 1},     {5, 7},      {700, 33},   {3, 1024},
                                               {3, 1025}, {800, 1500}, {2, 5000}, {1, 300007}, {5, 123457}};
  for (DType dt : kFloat) {
    for (const auto& [outer, R] : sizes) {
      SCOPED_TRACE(std::string(tensor::dtype_name(dt)) + " [" + std::to_string(outer) + ", " + std::to_string(R) + "]");
      const Tensor x = normal({outer, R}, dt, 22);
      for (const Layout& l : kLayouts) {
        SCOPED_TRACE(l.name);
        const Tensor xd = l.make(cuda(x));
        EXPECT_TRUE(matches_cpu(tensor::sum(xd, {1}), tensor::sum(x, {1}), rtol_for(dt), atol_for(dt)));
        EXPECT_TRUE(matches_cpu(tensor::mean(xd, {-1}, true), tensor::mean(x, {-1}, true), rtol_for(dt), atol_for(dt)));
      }
      EXPECT_TRUE(matches_cpu(tensor::sum(cuda(x)), tensor::sum(x), rtol_for(dt), atol_for(dt)));
    }
    const Tensor x3 = normal({4, 6, 50}, dt, 23);
    for (const std::vector<int64_t>& dims : {std::vector<int64_t>{0, 2}, {1}, {2, 0, 1}, {-2, -1}})
      EXPECT_TRUE(matches_cpu(tensor::sum(cuda(x3), dims), tensor::sum(x3, dims), rtol_for(dt), atol_for(dt)));
  }
}

TEST(CudaReduce, ColumnPath) {
  PM_REQUIRE_GPU();
  const std::pair<int64_t, int64_t> sizes[] = {{5, 3}, {100, 1}, {1000, 40}, {4097, 1000}, {100000, 3}, {64, 70000}};
  for (DType dt : kFloat) {
    for (const auto& [R, C] : sizes) {
      SCOPED_TRACE(std::string(tensor::dtype_name(dt)) + " [" + std::to_string(R) + ", " + std::to_string(C) + "]");
      const Tensor x = normal({R, C}, dt, 24);
      EXPECT_TRUE(matches_cpu(tensor::sum(cuda(x), {0}), tensor::sum(x, {0}), rtol_for(dt), atol_for(dt)));
      EXPECT_TRUE(matches_cpu(tensor::mean(cuda(x), {0}, true), tensor::mean(x, {0}, true), rtol_for(dt), atol_for(dt)));
    }
    const Tensor x = normal({6, 7, 33}, dt, 25);
    EXPECT_TRUE(matches_cpu(tensor::sum(cuda(x), {0, 1}), tensor::sum(x, {0, 1}), rtol_for(dt), atol_for(dt)));
    EXPECT_TRUE(matches_cpu(tensor::sum_to(cuda(x), {33}), tensor::sum_to(x, {33}), rtol_for(dt), atol_for(dt)));
    EXPECT_TRUE(matches_cpu(tensor::sum_to(cuda(x), {7, 1}), tensor::sum_to(x, {7, 1}), rtol_for(dt), atol_for(dt)));
  }
}

TEST(CudaReduce, IntegerSums) {
  PM_REQUIRE_GPU();
  for (DType dt : kInt) {
    SCOPED_TRACE(tensor::dtype_name(dt));
    for (const Shape& s : {Shape{3, 7}, Shape{2, 2000}, Shape{1, 100001}, Shape{50, 3}}) {
      const Tensor x = integers(s, dt, 26, 0, 100);
      EXPECT_TRUE(equals_cpu(tensor::sum(cuda(x), {1}), tensor::sum(x, {1})));
      EXPECT_TRUE(equals_cpu(tensor::sum(cuda(x), {0}), tensor::sum(x, {0})));
      EXPECT_TRUE(equals_cpu(tensor::sum(cuda(x)), tensor::sum(x)));
    }
    EXPECT_TRUE(pm_test::throws_with([&] { tensor::mean(cuda(integers({3}, dt, 1, 0, 5))); }, {"mean", "float"}));
  }
}

TEST(CudaReduce, Variance) {
  PM_REQUIRE_GPU();
  for (DType dt : kFloat) {
    for (const Shape& s : {Shape{1, 1}, Shape{3, 5}, Shape{4, 1500}, Shape{2, 200001}}) {
      const Tensor x = tensor::add(normal(s, dt, 27, 3.0), 100.0);  // a large mean: the two-pass form matters
      for (int64_t correction : {0, 1}) {
        SCOPED_TRACE(std::string(tensor::dtype_name(dt)) + " " + tensor::shape_str(s) + " correction " + std::to_string(correction));
        EXPECT_TRUE(matches_cpu(tensor::var(gapped(cuda(x)), {1}, correction), tensor::var(x, {1}, correction),
                                rtol_for(dt), atol_for(dt)));
        EXPECT_TRUE(matches_cpu(tensor::var(cuda(x), {}, correction, true), tensor::var(x, {}, correction, true),
                                rtol_for(dt), atol_for(dt)));
      }
    }
    const Tensor x = normal({2, 5, 3}, dt, 28);
    EXPECT_TRUE(matches_cpu(tensor::var(cuda(x), {0, 2}), tensor::var(x, {0, 2}), rtol_for(dt), atol_for(dt)));
  }
}

TEST(CudaReduce, MaxArgmaxFirstIndexAndNan) {
  PM_REQUIRE_GPU();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dt : kAll) {
    for (const Shape& s : {Shape{4, 1}, Shape{6, 5}, Shape{3, 1000}, Shape{3, 1025}, Shape{2, 5000}, Shape{1, 300007},
                           Shape{700, 40}}) {
      SCOPED_TRACE(std::string(tensor::dtype_name(dt)) + " " + tensor::shape_str(s));
      Tensor x = integers(s, dt, 29, 0, 7);  // ties everywhere
      for (int64_t dim : {1, 0}) {
        auto [v, i] = tensor::max(gapped(cuda(x)), dim);
        auto [vc, ic] = tensor::max(x, dim);
        EXPECT_TRUE(equals_cpu(v, vc));
        EXPECT_TRUE(equals_cpu(i, ic));
      }
      if (tensor::is_floating(dt)) {  // a NaN wins, the first of them
        Tensor xn = x.clone();
        const int64_t R = s[1];
        xn.select(0, 0).narrow(0, R / 2, 1).fill_(nan);
        xn.select(0, 0).narrow(0, R - 1, 1).fill_(nan);
        auto [v, i] = tensor::max(cuda(xn), 1);
        auto [vc, ic] = tensor::max(xn, 1);
        EXPECT_TRUE(equals_cpu(v, vc));
        EXPECT_TRUE(equals_cpu(i, ic));
      }
    }
    const Tensor big = integers({1 << 20}, dt, 30, 0, 250);
    EXPECT_TRUE(equals_cpu(tensor::max_all(cuda(big)), tensor::max_all(big)));
    EXPECT_TRUE(equals_cpu(tensor::argmax(cuda(big), 0, true), tensor::argmax(big, 0, true)));
  }
}

// ---- softmax -----------------------------------------------------------------------------------------

TEST(CudaSoftmax, ForwardAndBackwardAtEveryPathSize) {
  PM_REQUIRE_GPU();
  // warp rows (registers), block rows (shared memory), long rows (float64 50280 and float32 70000
  // do not fit in shared memory), R not a multiple of the vector width
  const std::pair<int64_t, int64_t> sizes[] = {{7, 1},    {5, 5},    {3, 32},   {3, 33},   {9, 1000}, {4, 1024},
                                               {4, 1025}, {3, 4000}, {3, 4001}, {2, 50280}, {2, 70000}};
  for (DType dt : kFloat) {
    for (const auto& [outer, R] : sizes) {
      SCOPED_TRACE(std::string(tensor::dtype_name(dt)) + " [" + std::to_string(outer) + ", " + std::to_string(R) + "]");
      const Tensor x = normal({outer, R}, dt, 31, 4.0), g = normal({outer, R}, dt, 32);
      const Tensor xd = cuda(x), gd = cuda(g);
      for (bool log : {false, true}) {
        SCOPED_TRACE(log ? "log_softmax" : "softmax");
        const Tensor y = log ? tensor::log_softmax(x, -1) : tensor::softmax(x, -1);
        const Tensor yd = log ? tensor::log_softmax(xd, -1) : tensor::softmax(xd, -1);
        // softmax values can be tiny: relative error only; log_softmax values are O(1), and a few
        // ulps of the row's sum move them by ~1e-7 absolute in float32
        const double atol = log ? atol_for(dt) : atol_for(dt) * 0.01;
        EXPECT_TRUE(matches_cpu(yd, y, rtol_for(dt), atol));
        const Tensor dx = log ? tensor::log_softmax_backward(g, y, -1) : tensor::softmax_backward(g, y, -1);
        const Tensor dxd = log ? tensor::log_softmax_backward(gd, yd, -1) : tensor::softmax_backward(gd, yd, -1);
        EXPECT_TRUE(matches_cpu(dxd, dx, rtol_for(dt) * 5, atol_for(dt)));
        // misaligned rows take the scalar block path
        const Tensor ym = log ? tensor::log_softmax(misaligned(xd), -1) : tensor::softmax(misaligned(xd), -1);
        EXPECT_TRUE(matches_cpu(ym, y, rtol_for(dt), atol));
      }
    }
    // a dim that is not last, and rows of -inf or NaN
    const Tensor x = normal({1500, 3}, dt, 33);
    EXPECT_TRUE(matches_cpu(tensor::softmax(cuda(x), 0), tensor::softmax(x, 0), rtol_for(dt), atol_for(dt)));
    const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
    const Tensor special = tensor::from_vector<double>({-inf, -inf, -inf, 1, nan, 2, 0, 1, inf}, {3, 3}).to(dt);
    EXPECT_TRUE(equals_cpu(tensor::softmax(cuda(special), 1), tensor::softmax(special, 1)));
    EXPECT_TRUE(equals_cpu(tensor::log_softmax(cuda(special), 1), tensor::log_softmax(special, 1)));
  }
}

// ---- random ------------------------------------------------------------------------------------------

TEST(CudaRandom, SameStreamsAsTheCpu) {
  PM_REQUIRE_GPU();
  for (DType dt : kFloat) {
    SCOPED_TRACE(tensor::dtype_name(dt));
    tensor::Generator gc(99), gd(99);
    const Tensor uc = tensor::rand({1000, 37}, dt, &gc, -2.0, 3.0);
    const Tensor ud = tensor::rand({1000, 37}, dt, &gd, -2.0, 3.0, Device::cuda());
    EXPECT_TRUE(equals_cpu(ud, uc));  // bitwise
    EXPECT_EQ(gc.offset(), gd.offset());
    const Tensor nc = tensor::randn({513, 7}, dt, &gc, 0.5, 2.0);
    const Tensor nd = tensor::randn({513, 7}, dt, &gd, 0.5, 2.0, Device::cuda());
    // log and cos may differ in their last bit between libm and CUDA
    EXPECT_TRUE(matches_cpu(nd, nc, dt == DType::Float32 ? 1.2e-7 : 1e-14, 1e-14));
    EXPECT_EQ(gc.offset(), gd.offset());
  }
  tensor::Generator gc(5), gd(5);
  EXPECT_TRUE(equals_cpu(tensor::randint(-3, 1000, {4099}, &gd, Device::cuda()), tensor::randint(-3, 1000, {4099}, &gc)));
  EXPECT_EQ(gc.offset(), gd.offset());
  tensor::manual_seed(7);
  const Tensor a = tensor::rand({33}, DType::Float32, nullptr, 0, 1, Device::cuda());
  tensor::manual_seed(7);
  EXPECT_TRUE(equals_cpu(a, tensor::rand({33})));
  EXPECT_TRUE(pm_test::throws_with([] { tensor::rand({3}, DType::Int32, nullptr, 0, 1, Device::cuda()); },
                                   {"rand", "float32 or float64", "int32"}));
}

// ---- argument errors (no GPU needed) ------------------------------------------------------------------

TEST(CudaOpsErrors, SoftmaxBackwardNamesUndefinedInputs) {
  const Tensor y = tensor::softmax(tensor::ones({2, 3}), 1);
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::softmax_backward(Tensor(), y, 1); },
                                   {"softmax_backward", "gradient tensor is undefined"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::log_softmax_backward(y, Tensor(), 1); },
                                   {"log_softmax_backward", "output tensor is undefined"}));
}

}  // namespace

namespace {
// The fused AdamW update on the GPU against the CPU's, over a few steps, at a size past the grid's
// cap for float32 and an odd size for float64.
TEST(CudaOptim, AdamWUpdateMatchesTheCpu) {
  PM_REQUIRE_GPU();
  for (DType dt : kFloat) {
    const Shape shape = dt == DType::Float32 ? Shape{4099, 4097} : Shape{3, 1001};
    Tensor p = normal(shape, dt, 1), m = tensor::zeros(shape, dt), v = tensor::zeros(shape, dt);
    Tensor pc = cuda(p), mc = cuda(m), vc = cuda(v);
    tensor::AdamWStep s;
    s.lr = 1e-2, s.weight_decay = 0.05, s.eps = 1e-8;
    for (int t = 1; t <= 3; ++t) {
      s.step = t;
      Tensor g = normal(shape, dt, 10 + t);
      tensor::adamw_update_(p, g, m, v, s);
      tensor::adamw_update_(pc, cuda(g), mc, vc, s);
    }
    EXPECT_TRUE(matches_cpu(pc, p, rtol_for(dt), atol_for(dt))) << tensor::dtype_name(dt);
    EXPECT_TRUE(matches_cpu(mc, m, rtol_for(dt), atol_for(dt))) << tensor::dtype_name(dt);
    EXPECT_TRUE(matches_cpu(vc, v, rtol_for(dt), atol_for(dt))) << tensor::dtype_name(dt);
  }
}
}  // namespace
