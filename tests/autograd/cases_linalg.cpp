// cases_linalg.cpp: gradcheck cases for matmul: plain, batched, broadcast batch, vector operands on
// either side, a batch against one shared matrix (the Linear layer's shape), and transposed views.
#include "autograd/functions/linalg.h"
#include "autograd/op_cases.h"
#include "tensor/ops/creation.h"

namespace {
using autograd::Variable;
using tensor::DType;
using tensor::Generator;
using tensor::Shape;
using tensor::Tensor;
using Vars = std::vector<Variable>;


// Inputs: standard normal drawn with the last two dims swapped, then given as transposed views, so
// matmul receives stride patterns (1, ld) and must pass them to the GEMM as transpose flags.
std::function<std::vector<Tensor>(Generator&)> transposed(std::vector<Shape> shapes) {
  return [shapes](Generator& g) {
    std::vector<Tensor> out;
    for (Shape s : shapes) {
      std::swap(s[s.size() - 1], s[s.size() - 2]);
      out.push_back(tensor::randn(s, DType::Float64, &g).transpose(-1, -2));
    }
    return out;
  };
}

Variable mm_fn(const Vars& v) { return autograd::matmul(v[0], v[1]); }

PM_OP_CASE({"matmul", "2-d [3, 4] x [4, 5]", autograd::normal_inputs({{3, 4}, {4, 5}}), mm_fn});
PM_OP_CASE({"matmul", "batched [2, 3, 4] x [2, 4, 5]", autograd::normal_inputs({{2, 3, 4}, {2, 4, 5}}), mm_fn});
PM_OP_CASE({"matmul", "broadcast batch [2, 1, 3, 4] x [5, 4, 2]", autograd::normal_inputs({{2, 1, 3, 4}, {5, 4, 2}}), mm_fn});
PM_OP_CASE({"matmul", "batch x shared matrix [2, 3, 4] x [4, 5]", autograd::normal_inputs({{2, 3, 4}, {4, 5}}), mm_fn});
PM_OP_CASE({"matmul", "shared matrix x batch [3, 4] x [2, 4, 5]", autograd::normal_inputs({{3, 4}, {2, 4, 5}}), mm_fn});
PM_OP_CASE({"matmul", "1-d x 2-d [4] x [4, 3]", autograd::normal_inputs({{4}, {4, 3}}), mm_fn});
PM_OP_CASE({"matmul", "2-d x 1-d [3, 4] x [4]", autograd::normal_inputs({{3, 4}, {4}}), mm_fn});
PM_OP_CASE({"matmul", "1-d x 1-d [5] x [5]", autograd::normal_inputs({{5}, {5}}), mm_fn});
PM_OP_CASE({"matmul", "1-d x batched [4] x [2, 4, 3]", autograd::normal_inputs({{4}, {2, 4, 3}}), mm_fn});
PM_OP_CASE({"matmul", "batched x 1-d [2, 3, 4] x [4]", autograd::normal_inputs({{2, 3, 4}, {4}}), mm_fn});
PM_OP_CASE({"matmul", "transposed views [3, 4]^T-stored x [4, 5]^T-stored", transposed({{3, 4}, {4, 5}}), mm_fn});
PM_OP_CASE({"matmul", "batch x transposed weight [2, 3, 4] x [4, 5]^T-stored",
            [](Generator& g) {
              return std::vector<Tensor>{tensor::randn({2, 3, 4}, DType::Float64, &g),
                                         tensor::randn({5, 4}, DType::Float64, &g).transpose(0, 1)};
            },
            mm_fn});

}  // namespace
