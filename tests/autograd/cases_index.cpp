// cases_index.cpp: gradcheck cases for index_select, gather, scatter_add and embedding. The index
// tensors repeat entries so that the backward's accumulation into one position is checked.
#include "autograd/functions/elementwise.h"
#include "autograd/functions/index.h"
#include "autograd/op_cases.h"
#include "tensor/ops/creation.h"
#include "tensor/ops/elementwise.h"

namespace {
using autograd::Variable;
using tensor::DType;
using tensor::Generator;
using tensor::Shape;
using tensor::Tensor;
using Vars = std::vector<Variable>;

Tensor ids(const std::vector<int64_t>& v, const Shape& s) { return tensor::from_vector<int64_t>(v, s); }

// Float inputs of the given shapes (standard normal), then the index tensors as given.
std::function<std::vector<Tensor>(Generator&)> inputs(std::vector<Shape> shapes, std::vector<Tensor> idx) {
  return [shapes, idx](Generator& g) {
    std::vector<Tensor> out;
    for (const auto& s : shapes) out.push_back(tensor::randn(s, DType::Float64, &g));
    for (const auto& t : idx) out.push_back(t.clone());
    return out;
  };
}

PM_OP_CASE({"index_select", "[5, 3] dim 0 ids {1, 3, 1, 0}", inputs({{5, 3}}, {ids({1, 3, 1, 0}, {4})}),
            [](const Vars& v) { return autograd::index_select(v[0], 0, v[1].data()); }});
PM_OP_CASE({"index_select", "[2, 6] dim -1 ids {5, 0, 5, 5, 2}", inputs({{2, 6}}, {ids({5, 0, 5, 5, 2}, {5})}),
            [](const Vars& v) { return autograd::index_select(v[0], -1, v[1].data()); }});
PM_OP_CASE({"index_select", "[2, 4, 3] dim 1 ids {3, 3, 0}", inputs({{2, 4, 3}}, {ids({3, 3, 0}, {3})}),
            [](const Vars& v) { return autograd::index_select(v[0], 1, v[1].data()); }});

PM_OP_CASE({"gather", "[3, 4] dim 1 ids [3, 5]",
            inputs({{3, 4}}, {ids({0, 3, 3, 1, 0, 2, 2, 2, 1, 3, 1, 0, 1, 1, 3}, {3, 5})}),
            [](const Vars& v) { return autograd::gather(v[0], 1, v[1].data()); }});
PM_OP_CASE({"gather", "[4, 5] dim -2 ids [3, 2] (smaller)", inputs({{4, 5}}, {ids({3, 0, 3, 3, 1, 0}, {3, 2})}),
            [](const Vars& v) { return autograd::gather(v[0], -2, v[1].data()); }});

PM_OP_CASE({"scatter_add", "base [4, 3] dim 0 ids/src [5, 3]",
            inputs({{4, 3}, {5, 3}}, {ids({0, 3, 3, 1, 0, 2, 2, 2, 1, 3, 1, 0, 1, 1, 3}, {5, 3})}),
            [](const Vars& v) { return autograd::scatter_add(v[0], 0, v[2].data(), v[1]); }});
PM_OP_CASE({"scatter_add", "base [3, 5] dim -1 ids [2, 4] src [3, 6]",
            inputs({{3, 5}, {3, 6}}, {ids({4, 4, 0, 2, 1, 4, 1, 3}, {2, 4})}),
            [](const Vars& v) { return autograd::scatter_add(v[0], -1, v[2].data(), v[1]); }});

PM_OP_CASE({"embedding", "weight [6, 3] ids [2, 4]", inputs({{6, 3}}, {ids({1, 5, 1, 0, 2, 2, 5, 1}, {2, 4})}),
            [](const Vars& v) { return autograd::embedding(v[0], v[1].data()); }});
// With padding_idx the padded rows get no gradient although the output reads them, so the case
// zeroes the outputs at padded ids: the true gradient of the padding row is then zero too.
PM_OP_CASE({"embedding", "weight [5, 2] ids [7] padding_idx 2", inputs({{5, 2}}, {ids({2, 4, 0, 2, 4, 4, 1}, {7})}),
            [](const Vars& v) {
              Tensor pad = tensor::compare(tensor::CompareOp::Eq, v[1].data(), tensor::full({}, 2, DType::Int64, v[1].data().device()));
              return autograd::masked_fill(autograd::embedding(v[0], v[1].data(), 2), pad.unsqueeze(-1), 0.0);
            }});

}  // namespace
