// index_views_test.cpp: the differentiable views and indexing ops beyond gradcheck: exact gradient
// values with repeated indices, embedding's padding_idx, one node per split/chunk piece, views
// sharing storage with their input, inputs that need no gradient, and argument errors.
#include <gtest/gtest.h>

#include "autograd/functions/elementwise.h"
#include "autograd/functions/index.h"
#include "autograd/functions/reduce.h"
#include "autograd/functions/views.h"
#include "autograd/grad_mode.h"
#include "common/test_util.h"

namespace {
using autograd::Variable;
using pm_test::tensors_close;
using pm_test::throws_with;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

Tensor iv(const std::vector<int64_t>& v, const Shape& s) { return tensor::from_vector<int64_t>(v, s); }
Tensor dv(const std::vector<double>& v, const Shape& s) { return tensor::from_vector<double>(v, s); }
Variable leaf(const Tensor& t) { return Variable(t, true); }

TEST(IndexGrad, IndexSelectAccumulatesRepeats) {
  Variable x = leaf(tensor::zeros({3, 2}, DType::Float64));
  Variable y = autograd::index_select(x, 0, iv({2, 0, 2, 2}, {4}));
  y.backward(dv({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2}));
  EXPECT_TRUE(tensors_close(x.grad(), dv({3, 4, 0, 0, 1 + 5 + 7, 2 + 6 + 8}, {3, 2})));
}

TEST(IndexGrad, GatherAndScatterAdd) {
  Variable x = leaf(tensor::zeros({2, 3}, DType::Float64));
  Variable y = autograd::gather(x, 1, iv({0, 0, 2, 1}, {2, 2}));
  y.backward(dv({1, 2, 3, 4}, {2, 2}));
  EXPECT_TRUE(tensors_close(x.grad(), dv({3, 0, 0, 0, 4, 3}, {2, 3})));

  Variable base = leaf(tensor::zeros({3}, DType::Float64));
  Variable src = leaf(tensor::zeros({4}, DType::Float64));
  Variable z = autograd::scatter_add(base, 0, iv({2, 0}, {2}), src);  // src[2:] unused
  z.backward(dv({10, 20, 30}, {3}));
  EXPECT_TRUE(tensors_close(base.grad(), dv({10, 20, 30}, {3})));
  EXPECT_TRUE(tensors_close(src.grad(), dv({30, 10, 0, 0}, {4})));
}

TEST(IndexGrad, ScatterAddWithOnlyOneSideTrainable) {
  Variable base(tensor::zeros({3}, DType::Float64));
  Variable src = leaf(tensor::zeros({2}, DType::Float64));
  autograd::scatter_add(base, 0, iv({1, 1}, {2}), src).backward(dv({1, 2, 3}, {3}));
  EXPECT_TRUE(tensors_close(src.grad(), dv({2, 2}, {2})));
  EXPECT_FALSE(base.grad().defined());
}

TEST(IndexGrad, EmbeddingPaddingRowGetsNoGradient) {
  Variable w = leaf(tensor::ones({4, 2}, DType::Float64));
  Tensor ids = iv({1, 3, 1, 0, 3, 3}, {2, 3});
  Variable y = autograd::embedding(w, ids, /*padding_idx=*/3);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 2}));
  EXPECT_TRUE(tensors_close(y.data(), tensor::ones({2, 3, 2}, DType::Float64)));  // the forward still reads row 3
  y.backward(tensor::ones({2, 3, 2}, DType::Float64));
  EXPECT_TRUE(tensors_close(w.grad(), dv({1, 1, 2, 2, 0, 0, 0, 0}, {4, 2})));
  Variable w2 = leaf(tensor::ones({4, 2}, DType::Float64));
  autograd::embedding(w2, ids).backward(tensor::ones({2, 3, 2}, DType::Float64));
  EXPECT_TRUE(tensors_close(w2.grad(), dv({1, 1, 2, 2, 0, 0, 3, 3}, {4, 2})));
}

TEST(IndexGrad, EmbeddingPaddingIdxOutOfRange) {
  Variable w = leaf(tensor::ones({4, 2}, DType::Float64));
  EXPECT_TRUE(throws_with([&] { autograd::embedding(w, iv({0}, {1}), 4); }, {"embedding", "padding_idx 4", "[0, 4)"}));
}

// The names of the nodes directly producing each variable.
std::vector<std::string> node_names(const std::vector<Variable>& vs) {
  std::vector<std::string> out;
  for (const auto& v : vs) out.push_back(v.grad_fn() ? v.grad_fn()->name() : "");
  return out;
}

TEST(ViewGrad, SplitAndChunkGiveOneNodePerPiece) {
  Variable x = leaf(tensor::arange(0, 10, 1, DType::Float64).view({5, 2}));
  auto ps = autograd::split(x, 2, 0);
  ASSERT_EQ(ps.size(), 3u);
  EXPECT_EQ(node_names(ps), (std::vector<std::string>{"split", "split", "split"}));
  EXPECT_EQ(ps[1].data().storage(), x.data().storage());  // pieces are views
  // only the last piece is used: the others get zeros
  ps[2].backward(dv({7, 8}, {1, 2}));
  EXPECT_TRUE(tensors_close(x.grad(), dv({0, 0, 0, 0, 0, 0, 0, 0, 7, 8}, {5, 2})));

  Variable y = leaf(tensor::zeros({2, 5}, DType::Float64));
  auto cs = autograd::chunk(y, 2, -1);  // ceil(5 / 2) = 3: widths 3 and 2
  EXPECT_EQ(node_names(cs), (std::vector<std::string>{"chunk", "chunk"}));
  Variable s = autograd::add(autograd::sum(cs[0]), autograd::mul(autograd::sum(cs[1]), 2.0));
  s.backward();
  EXPECT_TRUE(tensors_close(y.grad(), dv({1, 1, 1, 2, 2, 1, 1, 1, 2, 2}, {2, 5})));
}

TEST(ViewGrad, CatSkipsInputsThatNeedNoGradient) {
  Variable a = leaf(tensor::zeros({2, 1}, DType::Float64));
  Variable b(tensor::zeros({2, 2}, DType::Float64));
  Variable y = autograd::cat({b, a}, -1);
  y.backward(dv({1, 2, 3, 4, 5, 6}, {2, 3}));
  EXPECT_TRUE(tensors_close(a.grad(), dv({3, 6}, {2, 1})));
  EXPECT_FALSE(b.grad().defined());
  EXPECT_TRUE(throws_with([&] { autograd::cat({a, Variable()}, 0); }, {"cat", "tensor 1", "undefined"}));
  EXPECT_TRUE(throws_with([&] { autograd::cat({a, b}, 0); }, {"cat", "[2, 2]", "[2, 1]"}));
}

TEST(ViewGrad, ViewsShareStorageAndRecordOnlyWhenNeeded) {
  Variable x = leaf(tensor::zeros({2, 3}, DType::Float64));
  EXPECT_EQ(autograd::transpose(x, 0, 1).data().storage(), x.data().storage());
  EXPECT_EQ(autograd::expand(autograd::unsqueeze(x, 0), {4, 2, 3}).data().storage(), x.data().storage());
  EXPECT_EQ(autograd::slice(x, 1, 0, 3, 2).data().storage(), x.data().storage());
  Variable c(tensor::zeros({2, 3}, DType::Float64));
  EXPECT_FALSE(autograd::narrow(c, 0, 0, 1).requires_grad());
  EXPECT_FALSE(autograd::split(c, 1, 0)[0].requires_grad());
  {
    autograd::NoGradGuard ng;
    EXPECT_FALSE(autograd::flip(x, {0}).requires_grad());
    EXPECT_FALSE(autograd::chunk(x, 2, 1)[1].requires_grad());
  }
  EXPECT_EQ(autograd::permute(x, {1, 0}).grad_fn()->name(), std::string("permute"));
}

TEST(ViewGrad, NarrowSliceSelectPutTheGradientInPlace) {
  Variable x = leaf(tensor::zeros({2, 6}, DType::Float64));
  Variable s = autograd::add(autograd::sum(autograd::slice(x, -1, -5, 6, 2)),                   // cols 1, 3, 5
                             autograd::add(autograd::sum(autograd::narrow(x, 1, -2, 2)),         // cols 4, 5
                                           autograd::sum(autograd::select(x, 0, -1))));           // row 1
  s.backward();
  EXPECT_TRUE(tensors_close(x.grad(), dv({0, 1, 0, 1, 1, 2, 1, 2, 1, 2, 2, 3}, {2, 6})));
}

TEST(ViewGrad, ExpandAndPermuteRoundTrip) {
  Variable x = leaf(tensor::zeros({3, 1}, DType::Float64));
  autograd::sum(autograd::expand(x, {2, 3, 4})).backward();
  EXPECT_TRUE(tensors_close(x.grad(), tensor::full({3, 1}, 8, DType::Float64)));
  Variable p = leaf(tensor::zeros({2, 3, 4}, DType::Float64));
  Tensor g = tensor::randn({4, 2, 3}, DType::Float64);
  autograd::permute(p, {2, 0, -2}).backward(g);
  EXPECT_TRUE(tensors_close(p.grad(), g.permute({1, 2, 0}), 0, 0));
}

}  // namespace
