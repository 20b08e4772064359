// index_test.cpp: values of index_select, gather, scatter_add, index_add, embedding and
// embedding_backward against hand-written results and naive reference loops; repeated indices,
// every dtype, non-contiguous inputs and indices, sizes large enough to run multi-threaded, and
// every error message.
#include <gtest/gtest.h>

#include "common/test_util.h"

namespace {
using pm_test::tensors_close;
using pm_test::throws_with;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

Tensor iv(const std::vector<int64_t>& v, const Shape& s) { return tensor::from_vector<int64_t>(v, s); }
Tensor dv(const std::vector<double>& v, const Shape& s) { return tensor::from_vector<double>(v, s); }
// 0, 1, 2, ... as float64 in the given shape.
Tensor iota(const Shape& s) { return tensor::arange(0, static_cast<double>(tensor::numel_of(s)), 1, DType::Float64).view(s); }
// A copy of t whose last dim is strided (every other element of a wider buffer).
Tensor strided(const Tensor& t) {
  Shape wide = t.shape();
  wide.back() *= 2;
  Tensor buf = tensor::zeros(wide, t.dtype());
  Tensor v = buf.slice(-1, 0, wide.back(), 2);
  v.copy_(t);
  return v;
}

// ---- index_select -----------------------------------------------------------------------------

TEST(IndexSelect, PicksRowsAndColumnsWithRepeats) {
  Tensor x = iota({3, 4});
  EXPECT_TRUE(tensors_close(tensor::index_select(x, 0, iv({2, 0, 2}, {3})),
                            dv({8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}, {3, 4})));
  EXPECT_TRUE(tensors_close(tensor::index_select(x, -1, iv({3, 1}, {2})), dv({3, 1, 7, 5, 11, 9}, {3, 2})));
}

TEST(IndexSelect, MiddleDimOf3d) {
  Tensor x = iota({2, 3, 2});
  Tensor y = tensor::index_select(x, 1, iv({1, 1}, {2}));
  EXPECT_TRUE(tensors_close(y, dv({2, 3, 2, 3, 8, 9, 8, 9}, {2, 2, 2})));
}

TEST(IndexSelect, AllDtypes) {
  Tensor idx = iv({1, 0, 1}, {3});
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::UInt8}) {
    Tensor x = iota({2, 3}).to(dt);
    Tensor y = tensor::index_select(x, 0, idx);
    EXPECT_EQ(y.dtype(), dt);
    EXPECT_EQ(y.to_vector(), (std::vector<double>{3, 4, 5, 0, 1, 2, 3, 4, 5}));
  }
}

TEST(IndexSelect, NonContiguousInputAndIndex) {
  Tensor x = iota({4, 3}).transpose(0, 1);  // [3, 4], strides [1, 3]
  Tensor idx = strided(iv({3, 0, 3}, {3}));
  ASSERT_FALSE(x.is_contiguous());
  ASSERT_FALSE(idx.is_contiguous());
  Tensor y = tensor::index_select(x, 1, idx);
  Tensor ref = tensor::index_select(x.contiguous(), 1, idx.contiguous());
  EXPECT_TRUE(tensors_close(y, ref));
  EXPECT_TRUE(tensors_close(y, dv({9, 0, 9, 10, 1, 10, 11, 2, 11}, {3, 3})));
}

TEST(IndexSelect, EmptyIndexGivesEmptyDim) {
  Tensor y = tensor::index_select(iota({3, 4}), 0, iv({}, {0}));
  EXPECT_EQ(y.shape(), (Shape{0, 4}));
}

TEST(IndexSelect, Errors) {
  Tensor x = iota({3, 4});
  EXPECT_TRUE(throws_with([&] { tensor::index_select(x, 0, iv({0, 3}, {2})); },
                          {"index_select", "index 3", "[0, 3)", "dim 0", "[3, 4]"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_select(x, 1, iv({-1}, {1})); }, {"index_select", "index -1", "[0, 4)"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_select(x, 0, iv({0, 1}, {1, 2})); },
                          {"index_select", "must be 1-d", "[1, 2]"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_select(x, 0, iv({0}, {1}).to(DType::Int32)); },
                          {"index_select", "must be int64", "int32"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_select(x, 2, iv({0}, {1})); }, {"index_select", "dim 2"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_select(tensor::scalar_tensor(1.0), 0, iv({0}, {1})); },
                          {"index_select", "0-d"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_select(x, 0, Tensor()); }, {"index_select", "index tensor is undefined"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_select(Tensor(), 0, iv({0}, {1})); }, {"index_select", "undefined"}));
}

// ---- gather -----------------------------------------------------------------------------------

// out[i][j] = x[idx[i][j]][j] (dim 0) or x[i][idx[i][j]] (dim 1).
Tensor ref_gather2d(const Tensor& x, int64_t dim, const Tensor& idx) {
  std::vector<double> out;
  for (int64_t i = 0; i < idx.size(0); ++i)
    for (int64_t j = 0; j < idx.size(1); ++j) {
      int64_t k = static_cast<int64_t>(idx.at({i, j}));
      out.push_back(dim == 0 ? x.at({k, j}) : x.at({i, k}));
    }
  return dv(out, idx.shape());
}

TEST(Gather, Values) {
  Tensor x = iota({3, 4});
  Tensor idx = iv({0, 0, 3, 1, 2, 2}, {2, 3});
  EXPECT_TRUE(tensors_close(tensor::gather(x, 1, idx), dv({0, 0, 3, 5, 6, 6}, {2, 3})));
  Tensor idx0 = iv({2, 0, 1, 2, 2, 2, 0, 0}, {2, 4});
  EXPECT_TRUE(tensors_close(tensor::gather(x, -2, idx0), dv({8, 1, 6, 11, 8, 9, 2, 3}, {2, 4})));
}

TEST(Gather, NonContiguousAndRandomAgainstReference) {
  tensor::Generator g(3);
  Tensor x = tensor::randn({7, 5}, DType::Float64, &g).transpose(0, 1);  // [5, 7]
  for (int64_t dim : {0, 1}) {
    Tensor idx = strided(tensor::randint(0, x.size(dim), {4, 6}, &g));
    EXPECT_TRUE(tensors_close(tensor::gather(x, dim, idx), ref_gather2d(x, dim, idx)));
  }
}

TEST(Gather, LargeRunsMultiThreaded) {
  tensor::Generator g(4);
  Tensor x = tensor::randn({300, 200}, DType::Float32, &g);
  Tensor idx = tensor::randint(0, 300, {250, 200}, &g);
  Tensor y = tensor::gather(x, 0, idx);
  EXPECT_TRUE(tensors_close(y, ref_gather2d(x, 0, idx)));
}

TEST(Gather, IntDtype3d) {
  Tensor x = iota({2, 2, 3}).to(DType::Int32);
  Tensor idx = iv({2, 0, 1, 1}, {1, 2, 2});
  Tensor y = tensor::gather(x, 2, idx);
  EXPECT_EQ(y.dtype(), DType::Int32);
  EXPECT_EQ(y.to_vector(), (std::vector<double>{2, 0, 4, 4}));
}

TEST(Gather, Errors) {
  Tensor x = iota({3, 4});
  EXPECT_TRUE(throws_with([&] { tensor::gather(x, 1, iv({0, 4}, {1, 2})); },
                          {"gather", "index 4", "[0, 4)", "dim 1", "[3, 4]"}));
  EXPECT_TRUE(throws_with([&] { tensor::gather(x, 1, iv({0, 1}, {2})); },
                          {"gather", "index of shape [2]", "as many dims", "[3, 4]"}));
  EXPECT_TRUE(throws_with([&] { tensor::gather(x, 1, iv({0, 0, 0, 0, 0}, {5, 1})); },
                          {"gather", "[5, 1]", "larger than input", "[3, 4]", "dim 0"}));
  EXPECT_TRUE(throws_with([&] { tensor::gather(x, 1, tensor::zeros({1, 1})); }, {"gather", "int64", "float32"}));
  EXPECT_TRUE(throws_with([&] { tensor::gather(x, -3, iv({0}, {1, 1})); }, {"gather", "dim -3"}));
}

// ---- scatter_add ------------------------------------------------------------------------------

TEST(ScatterAdd, AccumulatesRepeatedIndices) {
  Tensor base = tensor::ones({3, 2}, DType::Float64);
  Tensor idx = iv({0, 2, 0, 2, 1, 0}, {3, 2});
  Tensor src = dv({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor y = tensor::scatter_add(base, 0, idx, src);
  // column 0: rows 0,0,1 get 1,3,5; column 1: rows 2,2,0 get 2,4,6
  EXPECT_TRUE(tensors_close(y, dv({1 + 1 + 3, 1 + 6, 1 + 5, 1, 1, 1 + 2 + 4}, {3, 2})));
  EXPECT_TRUE(tensors_close(base, tensor::ones({3, 2}, DType::Float64)));  // base untouched
}

TEST(ScatterAdd, LastDimWithSourceLargerThanIndex) {
  Tensor base = tensor::zeros({2, 3}, DType::Float64);
  Tensor idx = iv({2, 2}, {1, 2});       // only row 0, columns 0..1 of src are used
  Tensor src = tensor::add(iota({2, 4}), 1.0);   // [[1,2,3,4],[5,6,7,8]]
  Tensor y = tensor::scatter_add(base, -1, idx, src);
  EXPECT_TRUE(tensors_close(y, dv({0, 0, 3, 0, 0, 0}, {2, 3})));
}

// Reference: loop over idx positions in row-major order.
Tensor ref_scatter_add2d(const Tensor& base, int64_t dim, const Tensor& idx, const Tensor& src) {
  Tensor out = base.clone().to(DType::Float64);
  std::vector<double> o = out.to_vector();
  int64_t cols = base.size(1);
  for (int64_t i = 0; i < idx.size(0); ++i)
    for (int64_t j = 0; j < idx.size(1); ++j) {
      int64_t k = static_cast<int64_t>(idx.at({i, j}));
      int64_t r = dim == 0 ? k : i, c = dim == 0 ? j : k;
      o[r * cols + c] += src.at({i, j});
    }
  return dv(o, base.shape());
}

TEST(ScatterAdd, NonContiguousEverythingAgainstReference) {
  tensor::Generator g(5);
  Tensor base = tensor::randn({5, 4}, DType::Float64, &g).transpose(0, 1);  // [4, 5]
  Tensor src = strided(tensor::randn({6, 5}, DType::Float64, &g));
  for (int64_t dim : {0, 1}) {
    Tensor idx = strided(tensor::randint(0, base.size(dim), {dim == 0 ? 6 : 4, 5}, &g));
    EXPECT_TRUE(tensors_close(tensor::scatter_add(base, dim, idx, src), ref_scatter_add2d(base, dim, idx, src), 1e-12, 1e-12));
  }
}

TEST(ScatterAdd, LargeRunsMultiThreadedWithoutRaces) {
  tensor::Generator g(6);
  for (int64_t dim : {0, 1}) {
    Tensor base = tensor::randn({64, 600}, DType::Float64, &g);
    Tensor idx = dim == 0 ? tensor::randint(0, 8, {200, 600}, &g) : tensor::randint(0, 8, {64, 600}, &g);
    Tensor src = tensor::randn(idx.shape(), DType::Float64, &g);
    EXPECT_TRUE(tensors_close(tensor::scatter_add(base, dim, idx, src), ref_scatter_add2d(base, dim, idx, src), 1e-10, 1e-10));
  }
}

TEST(ScatterAdd, IntegerDtypes) {
  for (DType dt : {DType::Int32, DType::Int64, DType::UInt8, DType::Float32}) {
    Tensor y = tensor::scatter_add(tensor::zeros({3}, dt), 0, iv({1, 1, 2}, {3}), tensor::ones({3}, dt));
    EXPECT_EQ(y.dtype(), dt);
    EXPECT_EQ(y.to_vector(), (std::vector<double>{0, 2, 1}));
  }
}

TEST(ScatterAdd, Errors) {
  Tensor base = tensor::zeros({3, 2}, DType::Float64);
  Tensor src = tensor::ones({3, 2}, DType::Float64);
  EXPECT_TRUE(throws_with([&] { tensor::scatter_add(base, 0, iv({0, 3}, {1, 2}), src); },
                          {"scatter_add", "index 3", "[0, 3)", "dim 0", "[3, 2]"}));
  EXPECT_TRUE(throws_with([&] { tensor::scatter_add(base, 0, iv({0, 1}, {2}), src); },
                          {"scatter_add", "[3, 2]", "[2]", "same number of dims"}));
  EXPECT_TRUE(throws_with([&] { tensor::scatter_add(base, 0, iv({0, 0, 0, 0}, {4, 1}), src); },
                          {"scatter_add", "index of shape [4, 1]", "larger than source [3, 2]", "dim 0"}));
  EXPECT_TRUE(throws_with([&] { tensor::scatter_add(base, 0, iv({0, 0, 0}, {1, 3}), tensor::ones({1, 3}, DType::Float64)); },
                          {"scatter_add", "[1, 3]", "base [3, 2]", "dim 1"}));
  EXPECT_TRUE(throws_with([&] { tensor::scatter_add(base, 0, iv({0}, {1, 1}), src.to(DType::Float32)); },
                          {"scatter_add", "same dtype", "float64", "float32"}));
  EXPECT_TRUE(throws_with([&] { tensor::scatter_add(base, 0, iv({0}, {1, 1}), Tensor()); },
                          {"scatter_add", "source tensor is undefined"}));
}

// ---- index_add --------------------------------------------------------------------------------

TEST(IndexAdd, AccumulatesRepeatedIndices) {
  Tensor base = tensor::zeros({3, 2}, DType::Float64);
  Tensor y = tensor::index_add(base, 0, iv({2, 0, 2}, {3}), dv({1, 2, 3, 4, 5, 6}, {3, 2}));
  EXPECT_TRUE(tensors_close(y, dv({3, 4, 0, 0, 6, 8}, {3, 2})));
  Tensor y1 = tensor::index_add(tensor::ones({2, 3}, DType::Float64), -1, iv({1, 1}, {2}), dv({1, 2, 3, 4}, {2, 2}));
  EXPECT_TRUE(tensors_close(y1, dv({1, 4, 1, 1, 8, 1}, {2, 3})));
}

// Reference: index_add as a sum of selects.
Tensor ref_index_add(const Tensor& base, int64_t dim, const std::vector<int64_t>& ids, const Tensor& src) {
  Tensor out = base.to(DType::Float64).clone();
  for (size_t i = 0; i < ids.size(); ++i) {
    Tensor row = out.select(dim, ids[i]);
    row.copy_(tensor::add(row, src.select(dim, static_cast<int64_t>(i)).to(DType::Float64)));
  }
  return out;
}

TEST(IndexAdd, NonContiguousAndLargeAgainstReference) {
  tensor::Generator g(8);
  std::vector<int64_t> ids;
  for (int i = 0; i < 70; ++i) ids.push_back((i * 7) % 5);
  // large enough for several threads, along each of three dims, with strided base and source
  for (int64_t dim : {0, 1, 2}) {
    Shape bs{5, 5, 5};
    bs[2] = 2000;
    if (dim == 2) bs = {6, 40, 5};
    Tensor base = tensor::randn(bs, DType::Float64, &g);
    Shape ss = bs;
    ss[dim] = 70;
    Tensor src = strided(tensor::randn(ss, DType::Float64, &g));
    Tensor idx = strided(iv(ids, {70}));
    EXPECT_TRUE(tensors_close(tensor::index_add(base, dim, idx, src), ref_index_add(base, dim, ids, src), 1e-10, 1e-10));
  }
}

TEST(IndexAdd, IntegerDtype) {
  Tensor y = tensor::index_add(tensor::zeros({3}, DType::Int32), 0, iv({0, 0}, {2}), tensor::full({2}, 5, DType::Int32));
  EXPECT_EQ(y.to_vector(), (std::vector<double>{10, 0, 0}));
}

TEST(IndexAdd, Errors) {
  Tensor base = tensor::zeros({3, 2}, DType::Float64);
  EXPECT_TRUE(throws_with([&] { tensor::index_add(base, 0, iv({5}, {1}), tensor::ones({1, 2}, DType::Float64)); },
                          {"index_add", "index 5", "[0, 3)", "dim 0", "[3, 2]"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_add(base, 0, iv({0, 1}, {2}), tensor::ones({2, 3}, DType::Float64)); },
                          {"index_add", "source of shape [2, 3]", "base [3, 2]", "2 indices", "expected [2, 2]"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_add(base, 0, iv({0}, {1, 1}), tensor::ones({1, 2}, DType::Float64)); },
                          {"index_add", "1-d", "[1, 1]"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_add(base, 0, iv({0}, {1}), tensor::ones({1, 2}, DType::Int64)); },
                          {"index_add", "same dtype"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_add(tensor::scalar_tensor(0.0), 0, iv({0}, {1}), tensor::ones({1})); },
                          {"index_add", "0-d"}));
}

// ---- embedding --------------------------------------------------------------------------------

TEST(Embedding, LooksUpRowsForAnyIdsShape) {
  Tensor w = iota({4, 3});
  Tensor y = tensor::embedding(w, iv({3, 0, 3, 1}, {2, 2}));
  EXPECT_EQ(y.shape(), (Shape{2, 2, 3}));
  EXPECT_TRUE(tensors_close(y, dv({9, 10, 11, 0, 1, 2, 9, 10, 11, 3, 4, 5}, {2, 2, 3})));
  Tensor y0 = tensor::embedding(w, iv({2}, {}));  // 0-d ids -> [D]
  EXPECT_TRUE(tensors_close(y0, dv({6, 7, 8}, {3})));
  // a transposed weight and strided ids
  Tensor wt = iota({3, 4}).transpose(0, 1);
  EXPECT_TRUE(tensors_close(tensor::embedding(wt, strided(iv({1, 1}, {2}))), dv({1, 5, 9, 1, 5, 9}, {2, 3})));
}

TEST(Embedding, Errors) {
  Tensor w = iota({4, 3});
  EXPECT_TRUE(throws_with([&] { tensor::embedding(w, iv({0, 4}, {2})); },
                          {"embedding", "index 4", "[0, 4)", "weight of shape [4, 3]"}));
  EXPECT_TRUE(throws_with([&] { tensor::embedding(iota({4}), iv({0}, {1})); }, {"embedding", "2-d", "[4]"}));
  EXPECT_TRUE(throws_with([&] { tensor::embedding(w, tensor::zeros({2})); }, {"embedding", "int64", "float32"}));
}

TEST(EmbeddingBackward, AccumulatesAndSkipsPadding) {
  Tensor ids = iv({1, 3, 1, 0}, {2, 2});
  Tensor grad = tensor::add(iota({2, 2, 2}), 1.0);  // rows {1,2},{3,4},{5,6},{7,8}
  Tensor dw = tensor::embedding_backward(grad, ids, 4);
  EXPECT_TRUE(tensors_close(dw, dv({7, 8, 6, 8, 0, 0, 3, 4}, {4, 2})));
  Tensor dwp = tensor::embedding_backward(grad, ids, 4, /*padding_idx=*/1);
  EXPECT_TRUE(tensors_close(dwp, dv({7, 8, 0, 0, 0, 0, 3, 4}, {4, 2})));
  // a strided grad and float32
  Tensor dws = tensor::embedding_backward(strided(grad.to(DType::Float32)), ids, 5);
  EXPECT_EQ(dws.dtype(), DType::Float32);
  EXPECT_TRUE(tensors_close(dws, dv({7, 8, 6, 8, 0, 0, 3, 4, 0, 0}, {5, 2})));
}

TEST(EmbeddingBackward, LargeMatchesIndexAdd) {
  tensor::Generator g(9);
  Tensor ids = tensor::randint(0, 50, {16, 128}, &g);
  Tensor grad = tensor::randn({16, 128, 96}, DType::Float64, &g);
  Tensor dw = tensor::embedding_backward(grad, ids, 50, 7);
  Tensor ref = tensor::index_add(tensor::zeros({50, 96}, DType::Float64), 0, ids.reshape({-1}), grad.reshape({-1, 96}));
  ref.select(0, 7).fill_(0);
  EXPECT_TRUE(tensors_close(dw, ref, 1e-10, 1e-10));
}

TEST(EmbeddingBackward, Errors) {
  Tensor ids = iv({1, 3}, {2});
  Tensor grad = tensor::ones({2, 4}, DType::Float64);
  EXPECT_TRUE(throws_with([&] { tensor::embedding_backward(tensor::ones({3, 4}, DType::Float64), ids, 4); },
                          {"embedding_backward", "grad of shape [3, 4]", "ids of shape [2]"}));
  EXPECT_TRUE(throws_with([&] { tensor::embedding_backward(grad, ids, 3); },
                          {"embedding_backward", "index 3", "[0, 3)", "3 embeddings"}));
  EXPECT_TRUE(throws_with([&] { tensor::embedding_backward(grad, ids, 4, 4); },
                          {"embedding_backward", "padding_idx 4", "[0, 4)"}));
  EXPECT_TRUE(throws_with([&] { tensor::embedding_backward(grad, ids, -1); }, {"embedding_backward", "num_embeddings", "-1"}));
  EXPECT_TRUE(throws_with([&] { tensor::embedding_backward(tensor::ones({2, 4}, DType::Int64), ids, 4); },
                          {"embedding_backward", "float32 or float64", "int64"}));
}

}  // namespace
