// views_test.cpp: Tensor's view methods (view/reshape and the no-copy stride rules, permute,
// transpose, narrow, slice with step, select, expand, squeeze, unsqueeze, flatten) and copies
// (contiguous, clone, copy_ with broadcasting and dtype conversion, to(dtype)): shapes, strides,
// shared storage, values, and every error message.
#include <gtest/gtest.h>

#include "common/test_util.h"

namespace {
using pm_test::tensors_close;
using pm_test::throws_with;
using tensor::DType;
using tensor::Shape;
using tensor::Strides;
using tensor::Tensor;

Tensor dv(const std::vector<double>& v, const Shape& s) { return tensor::from_vector<double>(v, s); }
Tensor iota(const Shape& s) { return tensor::arange(0, static_cast<double>(tensor::numel_of(s)), 1, DType::Float64).view(s); }

// ---- view / reshape ---------------------------------------------------------------------------

TEST(View, ContiguousAnyCompatibleShape) {
  Tensor x = iota({2, 3, 4});
  Tensor a = x.view({6, 4});
  EXPECT_EQ(a.strides(), (Strides{4, 1}));
  EXPECT_EQ(a.storage(), x.storage());
  EXPECT_EQ(x.view({24}).shape(), (Shape{24}));
  EXPECT_EQ(x.view({4, -1}).shape(), (Shape{4, 6}));
  EXPECT_EQ(x.view({1, 24, 1}).shape(), (Shape{1, 24, 1}));
  EXPECT_TRUE(tensors_close(x.view({2, 12}).select(1, 5), dv({5, 17}, {2})));
}

TEST(View, StridedInputsFollowTheNoCopyRule) {
  // transposed [3, 4] (strides [1, 3]): the last dim can be split but not merged with the first
  Tensor t = iota({4, 3}).transpose(0, 1);
  Tensor s = t.view({3, 2, 2});
  EXPECT_EQ(s.strides(), (Strides{1, 6, 3}));
  EXPECT_TRUE(tensors_close(s, t.contiguous().view({3, 2, 2})));
  EXPECT_EQ(t.view({3, 1, 4}).shape(), (Shape{3, 1, 4}));
  EXPECT_TRUE(throws_with([&] { t.view({12}); },
                          {"view", "shape [3, 4] with strides [1, 3]", "cannot be viewed as [12]", "use reshape"}));
  // a column slice [4, 2] of a [4, 4]: the first dim splits, the two dims cannot merge
  Tensor c = iota({4, 4}).narrow(1, 1, 2);
  EXPECT_EQ(c.view({2, 2, 2}).strides(), (Strides{8, 4, 1}));
  EXPECT_TRUE(tensors_close(c.view({2, 2, 2}), c.contiguous().view({2, 2, 2})));
  EXPECT_TRUE(throws_with([&] { c.view({8}); }, {"view", "cannot be viewed as [8]"}));
  // leading dims contiguous among themselves merge even when the last is strided
  Tensor w = iota({2, 3, 8}).slice(2, 0, 8, 2);  // strides [24, 8, 2]
  EXPECT_EQ(w.view({6, 4}).strides(), (Strides{8, 2}));
  EXPECT_TRUE(tensors_close(w.view({6, 4}), w.contiguous().view({6, 4})));
  // expanded (stride 0) dims only take size-1 additions
  Tensor e = dv({1, 2, 3}, {3}).expand({2, 3});
  EXPECT_EQ(e.view({1, 2, 3, 1}).strides()[1], 0);
  EXPECT_TRUE(throws_with([&] { e.view({6}); }, {"view", "cannot be viewed as [6]"}));
}

TEST(View, ScalarsAndEmpty) {
  Tensor s = tensor::scalar_tensor(5.0, DType::Float64);
  EXPECT_EQ(s.view({1}).shape(), (Shape{1}));
  EXPECT_EQ(s.view({1, 1}).at({0, 0}), 5);
  EXPECT_EQ(s.view({1}).view({}).dim(), 0);
  Tensor z = tensor::zeros({0, 3});
  EXPECT_EQ(z.view({3, 0}).shape(), (Shape{3, 0}));
  EXPECT_EQ(z.view({-1, 3}).shape(), (Shape{0, 3}));
  EXPECT_TRUE(throws_with([&] { z.view({0, -1}); }, {"view", "cannot view shape [0, 3] as [0, -1]"}));
}

TEST(View, ShapeErrors) {
  Tensor x = iota({3, 4});
  EXPECT_TRUE(throws_with([&] { x.view({-1, -1}); }, {"view", "only one dimension can be -1", "[-1, -1]"}));
  EXPECT_TRUE(throws_with([&] { x.view({-2, 6}); }, {"view", "negative dimension", "[-2, 6]"}));
  EXPECT_TRUE(throws_with([&] { x.view({5, -1}); }, {"view", "cannot view shape [3, 4] as [5, -1]"}));
  EXPECT_TRUE(throws_with([&] { x.view({5}); }, {"view", "shape [5] is invalid", "[3, 4]", "12 elements"}));
  EXPECT_TRUE(throws_with([&] { x.reshape({7}); }, {"reshape", "shape [7] is invalid", "[3, 4]"}));
  EXPECT_TRUE(throws_with([&] { x.reshape({-1, -1}); }, {"reshape", "only one dimension can be -1"}));
}

TEST(Reshape, ViewWhenPossibleCopyOtherwise) {
  Tensor x = iota({3, 4});
  Tensor v = x.reshape({2, 6});
  EXPECT_EQ(v.storage(), x.storage());
  Tensor t = x.transpose(0, 1);
  Tensor r = t.reshape({12});
  EXPECT_NE(r.storage(), x.storage());
  EXPECT_TRUE(r.is_contiguous());
  EXPECT_TRUE(tensors_close(r, dv({0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, {12})));
  EXPECT_EQ(t.reshape({4, 3, 1}).storage(), x.storage());  // only adds a size-1 dim
}

// ---- permute / transpose ----------------------------------------------------------------------

TEST(Permute, ReordersShapeAndStrides) {
  Tensor x = iota({2, 3, 4});
  Tensor p = x.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Strides{1, 12, 4}));
  EXPECT_EQ(p.at({3, 1, 2}), x.at({1, 2, 3}));
  EXPECT_EQ(x.permute({-1, -3, -2}).shape(), (Shape{4, 2, 3}));
  EXPECT_TRUE(throws_with([&] { x.permute({0, 1}); }, {"permute", "got 2 dims", "[2, 3, 4]"}));
  EXPECT_TRUE(throws_with([&] { x.permute({0, 1, 1}); }, {"permute", "dim 1 repeated"}));
  EXPECT_TRUE(throws_with([&] { x.permute({0, 1, 3}); }, {"permute", "dim 3 out of range", "3-d"}));
}

TEST(Transpose, SwapsTwoDims) {
  Tensor x = iota({2, 3, 4});
  Tensor t = x.transpose(0, -1);
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.strides(), (Strides{1, 4, 12}));
  EXPECT_EQ(t.at({3, 2, 1}), x.at({1, 2, 3}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(tensor::scalar_tensor(2.0).transpose(0, -1).dim(), 0);
  EXPECT_TRUE(throws_with([&] { x.transpose(0, 3); }, {"transpose", "dim 3 out of range"}));
}

// ---- narrow / slice / select ------------------------------------------------------------------

TEST(Narrow, OffsetsIntoTheSameStorage) {
  Tensor x = iota({4, 5});
  Tensor n = x.narrow(1, 1, 3);
  EXPECT_EQ(n.shape(), (Shape{4, 3}));
  EXPECT_EQ(n.offset(), 1);
  EXPECT_TRUE(tensors_close(n.select(0, 1), dv({6, 7, 8}, {3})));
  EXPECT_TRUE(tensors_close(x.narrow(-1, -2, 2).select(0, 0), dv({3, 4}, {2})));
  EXPECT_EQ(x.narrow(0, 4, 0).shape(), (Shape{0, 5}));
  EXPECT_TRUE(throws_with([&] { x.narrow(1, 3, 3); },
                          {"narrow", "start 3 length 3", "out of range for dim 1", "[4, 5]"}));
  EXPECT_TRUE(throws_with([&] { x.narrow(0, -5, 1); }, {"narrow", "start -1", "dim 0"}));
  EXPECT_TRUE(throws_with([&] { x.narrow(0, 0, -1); }, {"narrow", "length -1"}));
  EXPECT_TRUE(throws_with([&] { x.narrow(2, 0, 1); }, {"narrow", "dim 2 out of range"}));
}

TEST(Slice, StepsAndPythonLikeBounds) {
  Tensor x = iota({10});
  EXPECT_TRUE(tensors_close(x.slice(0, 1, 8, 3), dv({1, 4, 7}, {3})));
  EXPECT_EQ(x.slice(0, 1, 8, 3).strides(), (Strides{3}));
  EXPECT_TRUE(tensors_close(x.slice(0, -4, -1), dv({6, 7, 8}, {3})));
  EXPECT_TRUE(tensors_close(x.slice(0, 7, 100, 2), dv({7, 9}, {2})));
  EXPECT_TRUE(tensors_close(x.slice(0, -100, 2), dv({0, 1}, {2})));
  EXPECT_EQ(x.slice(0, 6, 3).numel(), 0);
  EXPECT_EQ(x.slice(0, 20, 30).numel(), 0);
  Tensor m = iota({3, 6}).slice(-1, 1, 6, 2);  // columns 1, 3, 5
  EXPECT_TRUE(tensors_close(m, dv({1, 3, 5, 7, 9, 11, 13, 15, 17}, {3, 3})));
  // slicing a slice composes strides
  EXPECT_TRUE(tensors_close(x.slice(0, 1, 10, 2).slice(0, 1, 5, 2), dv({3, 7}, {2})));
  EXPECT_TRUE(throws_with([&] { x.slice(0, 0, 5, 0); }, {"slice", "step must be positive", "0"}));
  EXPECT_TRUE(throws_with([&] { x.slice(0, 0, 5, -1); }, {"slice", "step must be positive", "-1"}));
  EXPECT_TRUE(throws_with([&] { x.slice(1, 0, 5); }, {"slice", "dim 1 out of range"}));
}

TEST(Select, DropsTheDim) {
  Tensor x = iota({2, 3, 4});
  Tensor s = x.select(1, 2);
  EXPECT_EQ(s.shape(), (Shape{2, 4}));
  EXPECT_EQ(s.strides(), (Strides{12, 1}));
  EXPECT_TRUE(tensors_close(s, dv({8, 9, 10, 11, 20, 21, 22, 23}, {2, 4})));
  EXPECT_TRUE(tensors_close(x.select(-1, -1).select(0, 1), dv({15, 19, 23}, {3})));
  EXPECT_EQ(iota({3}).select(0, 1).dim(), 0);
  EXPECT_TRUE(throws_with([&] { x.select(1, 3); }, {"select", "index 3 out of range for dim 1", "[2, 3, 4]"}));
  EXPECT_TRUE(throws_with([&] { x.select(1, -4); }, {"select", "index -1 out of range"}));
}

TEST(ScalarViews, DimensionedOpsRejectA0dTensor) {
  Tensor s = tensor::scalar_tensor(1.0);
  EXPECT_TRUE(throws_with([&] { s.size(0); }, {"size", "dim 0", "0-d"}));
  EXPECT_TRUE(throws_with([&] { s.stride(-1); }, {"stride", "dim -1", "0-d"}));
  EXPECT_TRUE(throws_with([&] { s.narrow(0, 0, 1); }, {"narrow", "0-d"}));
  EXPECT_TRUE(throws_with([&] { s.slice(0, 0, 1); }, {"slice", "0-d"}));
  EXPECT_TRUE(throws_with([&] { s.select(0, 0); }, {"select", "0-d"}));
  EXPECT_EQ(s.squeeze(0).dim(), 0);
  EXPECT_EQ(s.unsqueeze(0).shape(), (Shape{1}));
  EXPECT_EQ(s.flatten().shape(), (Shape{1}));
}

// ---- expand / squeeze / unsqueeze / flatten ----------------------------------------------------

TEST(Expand, BroadcastsWithStrideZero) {
  Tensor x = dv({1, 2, 3}, {3, 1});
  Tensor e = x.expand({2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Strides{0, 1, 0}));
  EXPECT_EQ(e.storage(), x.storage());
  EXPECT_EQ(e.at({1, 2, 3}), 3);
  EXPECT_EQ(x.expand({-1, 5}).shape(), (Shape{3, 5}));
  EXPECT_EQ(x.expand({3, 1}).strides(), x.strides());
  EXPECT_EQ(x.expand({3, 0}).numel(), 0);
  EXPECT_TRUE(throws_with([&] { x.expand({4, 4}); }, {"expand", "cannot expand shape [3, 1] to [4, 4]"}));
  EXPECT_TRUE(throws_with([&] { x.expand({4}); }, {"expand", "cannot expand shape [3, 1] to [4]"}));
  EXPECT_TRUE(throws_with([&] { x.expand({-1, 3, 1}); }, {"expand", "-1 not allowed", "[-1, 3, 1]"}));
  EXPECT_TRUE(throws_with([&] { x.expand({3, -2}); }, {"expand", "negative size", "[3, -2]"}));
}

TEST(Squeeze, OneDimOrAll) {
  Tensor x = iota({1, 3, 1, 2});
  EXPECT_EQ(x.squeeze().shape(), (Shape{3, 2}));
  EXPECT_EQ(x.squeeze(2).shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(x.squeeze(-4).shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(x.squeeze(1).shape(), x.shape());  // not size 1: unchanged
  EXPECT_EQ(x.squeeze().storage(), x.storage());
  EXPECT_EQ(iota({1, 1}).squeeze().dim(), 0);
  EXPECT_TRUE(throws_with([&] { x.squeeze(4); }, {"squeeze", "dim 4 out of range", "4-d"}));
}

TEST(Unsqueeze, InsertsASizeOneDim) {
  Tensor x = iota({3, 4});
  EXPECT_EQ(x.unsqueeze(0).shape(), (Shape{1, 3, 4}));
  EXPECT_EQ(x.unsqueeze(1).shape(), (Shape{3, 1, 4}));
  EXPECT_EQ(x.unsqueeze(1).strides(), (Strides{4, 4, 1}));
  EXPECT_EQ(x.unsqueeze(-1).shape(), (Shape{3, 4, 1}));
  EXPECT_EQ(x.unsqueeze(-3).shape(), (Shape{1, 3, 4}));
  EXPECT_TRUE(x.unsqueeze(2).is_contiguous());
  EXPECT_TRUE(x.transpose(0, 1).unsqueeze(0).squeeze(0).strides() == x.transpose(0, 1).strides());
  EXPECT_TRUE(throws_with([&] { x.unsqueeze(3); }, {"unsqueeze", "dim 3 out of range"}));
  EXPECT_TRUE(throws_with([&] { x.unsqueeze(-4); }, {"unsqueeze", "dim -4 out of range"}));
}

TEST(Flatten, RangesOfDims) {
  Tensor x = iota({2, 3, 4, 5});
  EXPECT_EQ(x.flatten().shape(), (Shape{120}));
  EXPECT_EQ(x.flatten(1, 2).shape(), (Shape{2, 12, 5}));
  EXPECT_EQ(x.flatten(-2).shape(), (Shape{2, 3, 20}));
  EXPECT_EQ(x.flatten(2, 2).shape(), x.shape());
  EXPECT_EQ(x.flatten().storage(), x.storage());
  Tensor t = x.transpose(0, 3);  // flatten needs a copy here, like reshape
  EXPECT_TRUE(tensors_close(t.flatten(), t.contiguous().view({120})));
  EXPECT_TRUE(throws_with([&] { x.flatten(2, 1); }, {"flatten", "start_dim after end_dim"}));
  EXPECT_TRUE(throws_with([&] { x.flatten(0, 4); }, {"flatten", "dim 4 out of range"}));
}

// ---- contiguous / clone / copy_ / to ----------------------------------------------------------

TEST(Contiguous, ItselfOrACopy) {
  Tensor x = iota({3, 4});
  EXPECT_EQ(x.contiguous().storage(), x.storage());
  EXPECT_EQ(x.narrow(0, 1, 2).contiguous().storage(), x.storage());  // rows of a contiguous tensor
  Tensor t = x.transpose(0, 1);
  Tensor c = t.contiguous();
  EXPECT_NE(c.storage(), x.storage());
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.offset(), 0);
  EXPECT_TRUE(tensors_close(c, t));
  EXPECT_TRUE(iota({3, 1}).expand({3, 1}).is_contiguous());
  EXPECT_FALSE(iota({3, 1}).expand({3, 2}).is_contiguous());
}

TEST(Clone, AlwaysAFreshContiguousCopy) {
  Tensor x = iota({3, 4});
  Tensor c = x.clone();
  EXPECT_NE(c.storage(), x.storage());
  c.fill_(0);
  EXPECT_EQ(x.at({2, 3}), 11);
  Tensor e = dv({1, 2}, {2, 1}).expand({2, 3}).clone();
  EXPECT_EQ(e.strides(), (Strides{3, 1}));
  EXPECT_TRUE(tensors_close(e, dv({1, 1, 1, 2, 2, 2}, {2, 3})));
  EXPECT_TRUE(throws_with([] { Tensor().clone(); }, {"clone", "undefined"}));
}

TEST(Copy, BroadcastsIntoStridedDestinations) {
  Tensor x = tensor::zeros({2, 3}, DType::Float64);
  x.copy_(dv({1, 2, 3}, {3}));
  EXPECT_TRUE(tensors_close(x, dv({1, 2, 3, 1, 2, 3}, {2, 3})));
  x.copy_(tensor::scalar_tensor(7.0, DType::Float64));
  EXPECT_TRUE(tensors_close(x, tensor::full({2, 3}, 7, DType::Float64)));
  // into a column of a transposed view
  Tensor y = tensor::zeros({3, 2}, DType::Float64);
  y.transpose(0, 1).select(0, 1).copy_(dv({4, 5, 6}, {3}));
  EXPECT_TRUE(tensors_close(y, dv({0, 4, 0, 5, 0, 6}, {3, 2})));
  // from a transposed source, large enough to run threaded
  Tensor big = tensor::randn({300, 257}, DType::Float64);
  Tensor dst = Tensor::empty({257, 300}, DType::Float64);
  dst.copy_(big.transpose(0, 1));
  EXPECT_TRUE(tensors_close(dst.transpose(0, 1), big, 0, 0));
}

TEST(Copy, ConvertsDtypes) {
  Tensor f = dv({1.75, -2.5, 3.0}, {3});
  Tensor i = Tensor::empty({3}, DType::Int32);
  i.copy_(f);
  EXPECT_EQ(i.to_vector(), (std::vector<double>{1, -2, 3}));  // truncation toward zero
  Tensor u = Tensor::empty({2, 3}, DType::UInt8);
  u.copy_(tensor::from_vector<int64_t>({0, 200, 255}, {3}));
  EXPECT_EQ(u.to_vector(), (std::vector<double>{0, 200, 255, 0, 200, 255}));
  Tensor g = Tensor::empty({3}, DType::Float32);
  g.copy_(tensor::from_vector<int64_t>({-1, 1 << 20, 7}, {3}));
  EXPECT_EQ(g.to_vector(), (std::vector<double>{-1, 1 << 20, 7}));
}

TEST(Copy, Errors) {
  Tensor x = tensor::zeros({2, 3});
  EXPECT_TRUE(throws_with([&] { x.copy_(tensor::zeros({4})); }, {"copy_", "[2, 3]", "[4]", "do not broadcast"}));
  EXPECT_TRUE(throws_with([&] { x.copy_(tensor::zeros({3, 2, 3})); },
                          {"copy_", "source of shape [3, 2, 3] does not broadcast to [2, 3]"}));
  EXPECT_TRUE(throws_with([&] { x.copy_(tensor::zeros({2, 1, 3})); }, {"copy_", "does not broadcast to [2, 3]"}));
  EXPECT_TRUE(throws_with([&] { x.copy_(Tensor()); }, {"copy_", "source tensor is undefined"}));
  EXPECT_TRUE(throws_with([&] { Tensor().copy_(x); }, {"copy_", "destination tensor is undefined"}));
}

TEST(To, DtypeConversions) {
  Tensor x = dv({0.5, 1.5, -3.25}, {3});
  EXPECT_EQ(x.to(DType::Float64).storage(), x.storage());  // same dtype: itself
  Tensor f = x.to(DType::Float32);
  EXPECT_EQ(f.dtype(), DType::Float32);
  EXPECT_TRUE(tensors_close(f, x));
  EXPECT_EQ(x.to(DType::Int64).to_vector(), (std::vector<double>{0, 1, -3}));
  Tensor t = iota({2, 3}).transpose(0, 1).to(DType::Int32);  // strided source
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.to_vector(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_TRUE(throws_with([&] { x.to(DType::BFloat16); }, {"copy_", "bfloat16", "no kernels"}));
}

TEST(TensorBasics, EmptyItemAndAtErrors) {
  EXPECT_TRUE(throws_with([] { Tensor::empty({2, -1}); }, {"empty", "negative dimension", "[2, -1]"}));
  EXPECT_TRUE(throws_with([] { iota({2}).item<double>(); }, {"item", "[2]", "2 elements"}));
  EXPECT_EQ(iota({1, 1}).item<int64_t>(), 0);
  EXPECT_TRUE(throws_with([] { iota({2}).at({0, 0}); }, {"at", "2 entries", "1-d"}));
  EXPECT_TRUE(throws_with([] { iota({2}).at({2}); }, {"at", "out of range", "[2]"}));
}

}  // namespace
