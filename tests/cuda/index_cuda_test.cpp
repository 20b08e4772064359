// index_cuda_test.cpp: index_select, gather, scatter_add, index_add, embedding and
// embedding_backward on the GPU against the CPU: every dim, repeated indices, all dtypes,
// non-contiguous inputs and indices, padding_idx, enough ids to span many blocks of the grouping
// kernels; the accumulating ops add in the CPU's order, so their results must be bit-identical
// (float32 included) and the same on every run. Bounds errors keep the CPU's messages, naming the
// first bad index in row-major order.
#include <gtest/gtest.h>

#include "cuda/gpu_test_util.h"

namespace {
using pm_gpu_test::cuda;
using pm_gpu_test::equals_cpu;
using pm_test::throws_with;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

Tensor iv(const std::vector<int64_t>& v, const Shape& s) { return tensor::from_vector(v, s); }

Tensor values(const Shape& s, DType dt, uint64_t seed) {
  tensor::Generator g(seed);
  if (tensor::is_floating(dt)) return tensor::randn(s, dt, &g);
  return tensor::randint(0, 100, s, &g).to(dt);
}

Tensor ids(int64_t low, int64_t high, const Shape& s, uint64_t seed) {
  tensor::Generator g(seed);
  return tensor::randint(low, high, s, &g);
}

// The same values as t on the GPU with its first and last dims stored swapped (non-contiguous).
Tensor cuda_strided(const Tensor& t) {
  if (t.dim() < 2) {  // 1-d: every other element of a [n, 2] buffer
    Tensor buf = tensor::zeros({t.numel(), 2}, t.dtype());
    buf.select(1, 0).copy_(t);
    return cuda(buf).select(1, 0);
  }
  return cuda(t.transpose(0, -1).contiguous()).transpose(0, -1);
}

const std::vector<DType> kAll = {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::UInt8};

TEST(IndexCuda, IndexSelectEveryDimAndDtype) {
  PM_REQUIRE_GPU();
  uint64_t seed = 1;
  for (DType dt : kAll)
    for (int64_t dim = 0; dim < 3; ++dim) {
      SCOPED_TRACE(std::string(tensor::dtype_name(dt)) + " dim " + std::to_string(dim));
      const Tensor x = values({5, 6, 7}, dt, seed++);
      const Tensor idx = ids(0, x.size(dim), {9}, seed++);
      const Tensor want = tensor::index_select(x, dim, idx);
      EXPECT_TRUE(equals_cpu(tensor::index_select(cuda(x), dim, cuda(idx)), want));
      EXPECT_TRUE(equals_cpu(tensor::index_select(cuda_strided(x), dim, cuda_strided(idx)), want));
    }
  const Tensor x = values({4, 3}, DType::Float32, 50);
  EXPECT_TRUE(equals_cpu(tensor::index_select(cuda(x), -1, cuda(iv({2, 2, 0}, {3}))), tensor::index_select(x, -1, iv({2, 2, 0}, {3}))));
  EXPECT_TRUE(equals_cpu(tensor::index_select(cuda(x), 0, cuda(tensor::zeros({0}, DType::Int64))),
                         tensor::index_select(x, 0, tensor::zeros({0}, DType::Int64))));
}

TEST(IndexCuda, GatherEveryDim) {
  PM_REQUIRE_GPU();
  uint64_t seed = 100;
  for (DType dt : kAll)
    for (int64_t dim = 0; dim < 3; ++dim) {
      SCOPED_TRACE(std::string(tensor::dtype_name(dt)) + " dim " + std::to_string(dim));
      const Tensor x = values({5, 6, 7}, dt, seed++);
      Shape is = {4, 5, 3};  // smaller than x outside dim, any length along it
      is[dim] = 8;
      const Tensor idx = ids(0, x.size(dim), is, seed++);
      const Tensor want = tensor::gather(x, dim, idx);
      EXPECT_TRUE(equals_cpu(tensor::gather(cuda(x), dim, cuda(idx)), want));
      EXPECT_TRUE(equals_cpu(tensor::gather(cuda_strided(x), dim, cuda_strided(idx)), want));
    }
}

TEST(IndexCuda, ScatterAddMatchesCpuBitForBit) {
  PM_REQUIRE_GPU();
  uint64_t seed = 200;
  for (DType dt : kAll)
    for (int64_t dim = 0; dim < 3; ++dim) {
      SCOPED_TRACE(std::string(tensor::dtype_name(dt)) + " dim " + std::to_string(dim));
      const Tensor base = values({5, 6, 7}, dt, seed++);
      Shape is = {4, 5, 3};
      is[dim] = 11;  // more entries than base has along dim: repeats are certain
      Shape ss = is;
      ss[(dim + 1) % 3] += 1;  // src may be larger than the index
      const Tensor idx = ids(0, base.size(dim), is, seed++), src = values(ss, dt, seed++);
      const Tensor want = tensor::scatter_add(base, dim, idx, src);
      EXPECT_TRUE(equals_cpu(tensor::scatter_add(cuda(base), dim, cuda(idx), cuda(src)), want));
      EXPECT_TRUE(equals_cpu(tensor::scatter_add(cuda_strided(base), dim, cuda_strided(idx), cuda_strided(src)), want));
    }
}

TEST(IndexCuda, IndexAddMatchesCpuBitForBit) {
  PM_REQUIRE_GPU();
  uint64_t seed = 300;
  for (DType dt : kAll)
    for (int64_t dim = 0; dim < 3; ++dim) {
      SCOPED_TRACE(std::string(tensor::dtype_name(dt)) + " dim " + std::to_string(dim));
      const Tensor base = values({5, 6, 7}, dt, seed++);
      const Tensor idx = ids(0, base.size(dim), {13}, seed++);
      Shape ss = base.shape();
      ss[dim] = 13;
      const Tensor src = values(ss, dt, seed++);
      const Tensor want = tensor::index_add(base, dim, idx, src);
      EXPECT_TRUE(equals_cpu(tensor::index_add(cuda(base), dim, cuda(idx), cuda(src)), want));
      EXPECT_TRUE(equals_cpu(tensor::index_add(cuda_strided(base), dim, cuda_strided(idx), cuda_strided(src)), want));
    }
}

TEST(IndexCuda, IndexAddManyIndicesAcrossBlocks) {
  PM_REQUIRE_GPU();
  // 3000 indices into 50 rows: long runs of equal indices spread over many 256-index tiles
  const Tensor base = values({50, 33}, DType::Float32, 400), src = values({3000, 33}, DType::Float32, 401);
  const Tensor idx = ids(0, 50, {3000}, 402);
  EXPECT_TRUE(equals_cpu(tensor::index_add(cuda(base), 0, cuda(idx), cuda(src)), tensor::index_add(base, 0, idx, src)));
}

TEST(IndexCuda, EmbeddingAndItsBackward) {
  PM_REQUIRE_GPU();
  for (DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(tensor::dtype_name(dt));
    const Tensor w = values({40, 24}, dt, 500);
    const Tensor t = ids(0, 40, {6, 35}, 501);
    const Tensor want = tensor::embedding(w, t);
    EXPECT_TRUE(equals_cpu(tensor::embedding(cuda(w), cuda(t)), want));
    EXPECT_TRUE(equals_cpu(tensor::embedding(cuda_strided(w), cuda_strided(t)), want));
    const Tensor g = values({6, 35, 24}, dt, 502);
    for (int64_t pad : {int64_t(-1), int64_t(0), int64_t(17)}) {
      SCOPED_TRACE("padding_idx " + std::to_string(pad));
      const Tensor dwant = tensor::embedding_backward(g, t, 40, pad);
      EXPECT_TRUE(equals_cpu(tensor::embedding_backward(cuda(g), cuda(t), 40, pad), dwant));
      EXPECT_TRUE(equals_cpu(tensor::embedding_backward(cuda_strided(g), cuda_strided(t), 40, pad), dwant));
    }
  }
}

TEST(IndexCuda, EmbeddingBackwardTokenBatchIsExactAndRepeatable) {
  PM_REQUIRE_GPU();
  // a Zipf-like id stream: a few ids repeat thousands of times, most rarely or never
  tensor::Generator gen(600);
  const Tensor u = tensor::rand({8, 1024}, DType::Float64, &gen);
  const Tensor t = tensor::mul(tensor::mul(u, u), 5000.0).to(DType::Int64);  // truncation: ids in [0, 5000)
  const Tensor g = values({8, 1024, 64}, DType::Float32, 601);
  const Tensor want = tensor::embedding_backward(g, t, 5000, 1);
  const Tensor first = tensor::embedding_backward(cuda(g), cuda(t), 5000, 1);
  EXPECT_TRUE(equals_cpu(first, want));
  EXPECT_TRUE(equals_cpu(tensor::embedding_backward(cuda(g), cuda(t), 5000, 1), first.to(tensor::Device::cpu())));
}

TEST(IndexCuda, EmptyIndicesAndGradients) {
  PM_REQUIRE_GPU();
  const Tensor none = tensor::zeros({0}, DType::Int64);
  EXPECT_TRUE(equals_cpu(tensor::embedding_backward(cuda(tensor::zeros({0, 5})), cuda(none), 7, -1), tensor::zeros({7, 5})));
  const Tensor base = values({4, 3}, DType::Float32, 700);
  EXPECT_TRUE(equals_cpu(tensor::index_add(cuda(base), 0, cuda(none), cuda(tensor::zeros({0, 3}))), base));
  EXPECT_TRUE(equals_cpu(tensor::embedding(cuda(base), cuda(tensor::zeros({2, 0}, DType::Int64))),
                         tensor::zeros({2, 0, 3})));
}

TEST(IndexCuda, BoundsErrorsUseTheCpuMessages) {
  PM_REQUIRE_GPU();
  const Tensor x = cuda(tensor::zeros({3, 4}));
  EXPECT_TRUE(throws_with([&] { tensor::index_select(x, 0, cuda(iv({0, 3}, {2}))); },
                          {"index_select: index 3 out of range [0, 3) for dim 0 of shape [3, 4]"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_select(x, 1, cuda(iv({-1}, {1}))); },
                          {"index_select: index -1 out of range [0, 4) for dim 1 of shape [3, 4]"}));
  EXPECT_TRUE(throws_with([&] { tensor::gather(x, 1, cuda(iv({0, 4, 9, 0}, {2, 2}))); },
                          {"gather: index 4 out of range [0, 4) for dim 1 of shape [3, 4]"}));
  // non-contiguous index: the first bad one in row-major order of the view, not of memory
  const Tensor t = cuda(iv({0, 7, 5, 0}, {2, 2})).transpose(0, 1);  // view [[0, 5], [7, 0]]
  EXPECT_TRUE(throws_with([&] { tensor::gather(x, 1, t); }, {"gather: index 5 out of range [0, 4)"}));
  EXPECT_TRUE(throws_with([&] { tensor::scatter_add(x, 0, cuda(iv({3}, {1, 1})), cuda(tensor::ones({1, 1}))); },
                          {"scatter_add: index 3 out of range [0, 3) for dim 0 of shape [3, 4]"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_add(x, 0, cuda(iv({1, -2}, {2})), cuda(tensor::ones({2, 4}))); },
                          {"index_add: index -2 out of range [0, 3) for dim 0 of shape [3, 4]"}));
  EXPECT_TRUE(throws_with([&] { tensor::embedding(x, cuda(iv({0, 1, 2, 3}, {2, 2}))); },
                          {"embedding: index 3 out of range [0, 3) for weight of shape [3, 4]"}));
  EXPECT_TRUE(throws_with([&] { tensor::embedding_backward(cuda(tensor::zeros({2, 4})), cuda(iv({0, 9}, {2})), 5); },
                          {"embedding_backward: index 9 out of range [0, 5) for 5 embeddings"}));
  EXPECT_TRUE(throws_with([&] { tensor::embedding_backward(cuda(tensor::zeros({2, 4})), cuda(iv({0, 1}, {2})), 5, 5); },
                          {"embedding_backward: padding_idx 5 out of range [0, 5)"}));
  EXPECT_TRUE(throws_with([&] { tensor::embedding_backward(cuda(tensor::zeros({2, 4}, DType::Int64)), cuda(iv({0, 1}, {2})), 5); },
                          {"embedding_backward: expected a float32 or float64 tensor, got int64"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_select(x, 0, iv({0}, {1})); },
                          {"index_select: expected tensors on the same device", "cuda:0", "cpu"}));
  EXPECT_TRUE(throws_with([&] { tensor::embedding(x, iv({0}, {1})); }, {"embedding: expected tensors on the same device"}));
  EXPECT_TRUE(throws_with([&] { tensor::index_add(x, 0, cuda(iv({0}, {1})), tensor::ones({1, 4})); },
                          {"index_add: expected tensors on the same device"}));
}

}  // namespace
