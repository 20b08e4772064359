// shape_ops_test.cpp: cat, split (by size and by sizes), chunk (torch's ceil-division rule) and
// flip: values, views vs copies, non-contiguous and expanded inputs, dtypes, and error messages.
#include <gtest/gtest.h>

#include "common/test_util.h"

namespace {
using pm_test::tensors_close;
using pm_test::throws_with;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

Tensor dv(const std::vector<double>& v, const Shape& s) { return tensor::from_vector<double>(v, s); }
Tensor iota(const Shape& s) { return tensor::arange(0, static_cast<double>(tensor::numel_of(s)), 1, DType::Float64).view(s); }

std::vector<Shape> shapes_of(const std::vector<Tensor>& ts) {
  std::vector<Shape> out;
  for (const auto& t : ts) out.push_back(t.shape());
  return out;
}

// ---- cat --------------------------------------------------------------------------------------

TEST(Cat, AlongEachDim) {
  Tensor a = iota({2, 2}), b = tensor::add(iota({1, 2}), 10.0);
  EXPECT_TRUE(tensors_close(tensor::cat({a, b}, 0), dv({0, 1, 2, 3, 10, 11}, {3, 2})));
  Tensor c = tensor::add(iota({2, 1}), 20.0);
  EXPECT_TRUE(tensors_close(tensor::cat({a, c, a}, -1), dv({0, 1, 20, 0, 1, 2, 3, 21, 2, 3}, {2, 5})));
}

TEST(Cat, NonContiguousExpandedAndEmptyPieces) {
  Tensor a = iota({3, 2}).transpose(0, 1);                        // [2, 3], strided
  Tensor b = dv({7, 8}, {2, 1}).expand({2, 2});                   // stride-0 columns
  Tensor e = tensor::zeros({2, 0}, DType::Float64);               // contributes nothing
  Tensor y = tensor::cat({a, e, b}, 1);
  EXPECT_TRUE(tensors_close(y, dv({0, 2, 4, 7, 7, 1, 3, 5, 8, 8}, {2, 5})));
  EXPECT_TRUE(y.is_contiguous());
}

TEST(Cat, SingleTensorIsACopyAndIntDtypesWork) {
  Tensor a = iota({2, 3}).to(DType::Int32);
  Tensor y = tensor::cat({a}, 1);
  EXPECT_EQ(y.dtype(), DType::Int32);
  EXPECT_NE(y.storage(), a.storage());
  EXPECT_EQ(y.to_vector(), a.to_vector());
  Tensor u = tensor::cat({tensor::ones({2}, DType::UInt8), tensor::zeros({1}, DType::UInt8)}, 0);
  EXPECT_EQ(u.to_vector(), (std::vector<double>{1, 1, 0}));
}

TEST(Cat, Errors) {
  Tensor a = iota({2, 3});
  EXPECT_TRUE(throws_with([] { tensor::cat({}, 0); }, {"cat", "at least one"}));
  EXPECT_TRUE(throws_with([&] { tensor::cat({a, Tensor()}, 0); }, {"cat", "tensor 1", "undefined"}));
  EXPECT_TRUE(throws_with([&] { tensor::cat({a, tensor::scalar_tensor(1.0, DType::Float64)}, 0); }, {"cat", "tensor 1", "0-d"}));
  EXPECT_TRUE(throws_with([&] { tensor::cat({a, iota({2, 4})}, 0); },
                          {"cat", "tensor 1 has shape [2, 4]", "tensor 0 has shape [2, 3]", "except in dim 0"}));
  EXPECT_TRUE(throws_with([&] { tensor::cat({a, iota({2, 3, 1})}, 1); }, {"cat", "[2, 3, 1]", "[2, 3]"}));
  EXPECT_TRUE(throws_with([&] { tensor::cat({a, a.to(DType::Float32)}, 0); }, {"cat", "same dtype", "float64", "float32"}));
  EXPECT_TRUE(throws_with([&] { tensor::cat({a, a}, 2); }, {"cat", "dim 2"}));
}

// ---- split / chunk ----------------------------------------------------------------------------

TEST(Split, BySizeGivesViewsWithShorterLast) {
  Tensor x = iota({5, 2});
  auto ps = tensor::split(x, 2, 0);
  EXPECT_EQ(shapes_of(ps), (std::vector<Shape>{{2, 2}, {2, 2}, {1, 2}}));
  EXPECT_TRUE(tensors_close(ps[2], dv({8, 9}, {1, 2})));
  EXPECT_EQ(ps[1].storage(), x.storage());  // a view: writing it writes x
  ps[1].fill_(-1);
  EXPECT_EQ(x.at({2, 0}), -1);
  EXPECT_EQ(x.at({3, 1}), -1);
}

TEST(Split, NegativeDimLargeSizeAndEmptyDim) {
  Tensor x = iota({2, 3});
  auto ps = tensor::split(x, 2, -1);
  EXPECT_EQ(shapes_of(ps), (std::vector<Shape>{{2, 2}, {2, 1}}));
  EXPECT_TRUE(tensors_close(ps[1], dv({2, 5}, {2, 1})));
  EXPECT_EQ(shapes_of(tensor::split(x, 10, 0)), (std::vector<Shape>{{2, 3}}));
  EXPECT_EQ(shapes_of(tensor::split(tensor::zeros({0, 3}), 2, 0)), (std::vector<Shape>{{0, 3}}));
}

TEST(Split, BySizesIncludingZero) {
  Tensor x = iota({2, 6});
  auto ps = tensor::split(x, std::vector<int64_t>{1, 0, 3, 2}, 1);
  EXPECT_EQ(shapes_of(ps), (std::vector<Shape>{{2, 1}, {2, 0}, {2, 3}, {2, 2}}));
  EXPECT_TRUE(tensors_close(ps[2], dv({1, 2, 3, 7, 8, 9}, {2, 3})));
  EXPECT_TRUE(tensors_close(ps[3], dv({4, 5, 10, 11}, {2, 2})));
}

TEST(Split, Errors) {
  Tensor x = iota({2, 5});
  EXPECT_TRUE(throws_with([&] { tensor::split(x, 0, 1); }, {"split", "positive", "0"}));
  EXPECT_TRUE(throws_with([&] { tensor::split(x, std::vector<int64_t>{2, 2}, 1); },
                          {"split", "sizes [2, 2] sum to 4", "dim 1", "[2, 5]", "size 5"}));
  EXPECT_TRUE(throws_with([&] { tensor::split(x, std::vector<int64_t>{6, -1}, 1); }, {"split", "negative", "[6, -1]"}));
  EXPECT_TRUE(throws_with([&] { tensor::split(x, 1, 2); }, {"split", "dim 2"}));
  EXPECT_TRUE(throws_with([] { tensor::split(tensor::scalar_tensor(1.0), 1, 0); }, {"split", "0-d"}));
  EXPECT_TRUE(throws_with([] { tensor::split(Tensor(), 1, 0); }, {"split", "undefined"}));
}

TEST(Chunk, CeilDivisionLikeTorch) {
  EXPECT_EQ(shapes_of(tensor::chunk(iota({5}), 4, 0)), (std::vector<Shape>{{2}, {2}, {1}}));
  EXPECT_EQ(shapes_of(tensor::chunk(iota({6}), 4, 0)), (std::vector<Shape>{{2}, {2}, {2}}));
  EXPECT_EQ(shapes_of(tensor::chunk(iota({6}), 3, 0)), (std::vector<Shape>{{2}, {2}, {2}}));
  EXPECT_EQ(shapes_of(tensor::chunk(iota({2, 3}), 5, -1)), (std::vector<Shape>{{2, 1}, {2, 1}, {2, 1}}));
  EXPECT_EQ(shapes_of(tensor::chunk(tensor::zeros({0}), 3, 0)), (std::vector<Shape>{{0}}));
  auto ps = tensor::chunk(iota({7, 1}), 2, 0);
  EXPECT_TRUE(tensors_close(ps[1], dv({4, 5, 6}, {3, 1})));
}

TEST(Chunk, Errors) {
  EXPECT_TRUE(throws_with([] { tensor::chunk(iota({4}), 0, 0); }, {"chunk", "positive", "0"}));
  EXPECT_TRUE(throws_with([] { tensor::chunk(iota({4}), 2, 1); }, {"chunk", "dim 1"}));
  EXPECT_TRUE(throws_with([] { tensor::chunk(tensor::scalar_tensor(1.0), 1, 0); }, {"chunk", "0-d"}));
}

// ---- flip -------------------------------------------------------------------------------------

TEST(Flip, OneDimSeveralDimsAndNone) {
  Tensor x = iota({2, 3});
  EXPECT_TRUE(tensors_close(tensor::flip(x, {0}), dv({3, 4, 5, 0, 1, 2}, {2, 3})));
  EXPECT_TRUE(tensors_close(tensor::flip(x, {-1}), dv({2, 1, 0, 5, 4, 3}, {2, 3})));
  EXPECT_TRUE(tensors_close(tensor::flip(x, {1, 0}), dv({5, 4, 3, 2, 1, 0}, {2, 3})));
  Tensor same = tensor::flip(x, {});
  EXPECT_TRUE(tensors_close(same, x));
  EXPECT_NE(same.storage(), x.storage());  // always a copy
  Tensor y = tensor::flip(iota({2, 2, 2}), {0, 2});
  EXPECT_TRUE(tensors_close(y, dv({5, 4, 7, 6, 1, 0, 3, 2}, {2, 2, 2})));
}

TEST(Flip, StridedExpandedScalarEmptyAndInt) {
  Tensor t = iota({3, 2}).transpose(0, 1);  // [[0,2,4],[1,3,5]]
  EXPECT_TRUE(tensors_close(tensor::flip(t, {1}), dv({4, 2, 0, 5, 3, 1}, {2, 3})));
  Tensor e = dv({1, 2}, {2, 1}).expand({2, 3});
  EXPECT_TRUE(tensors_close(tensor::flip(e, {0, 1}), dv({2, 2, 2, 1, 1, 1}, {2, 3})));
  EXPECT_TRUE(tensors_close(tensor::flip(tensor::scalar_tensor(3.0, DType::Float64), {0}), tensor::scalar_tensor(3.0, DType::Float64)));
  EXPECT_EQ(tensor::flip(tensor::zeros({0, 2}), {0}).shape(), (Shape{0, 2}));
  Tensor i = tensor::flip(iota({4}).to(DType::Int64), {0});
  EXPECT_EQ(i.dtype(), DType::Int64);
  EXPECT_EQ(i.to_vector(), (std::vector<double>{3, 2, 1, 0}));
  // flipping twice is the identity on a large tensor (runs through the threaded copy)
  Tensor big = tensor::randn({64, 1024}, DType::Float32);
  EXPECT_TRUE(tensors_close(tensor::flip(tensor::flip(big, {0, 1}), {1, 0}), big, 0, 0));
}

TEST(Flip, Errors) {
  EXPECT_TRUE(throws_with([] { tensor::flip(iota({2, 3}), {1, -1}); }, {"flip", "dim 1", "more than once", "[1, -1]"}));
  EXPECT_TRUE(throws_with([] { tensor::flip(iota({2, 3}), {2}); }, {"flip", "dim 2"}));
  EXPECT_TRUE(throws_with([] { tensor::flip(Tensor(), {0}); }, {"flip", "undefined"}));
}

}  // namespace
