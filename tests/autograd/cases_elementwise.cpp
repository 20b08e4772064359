// cases_elementwise.cpp: gradcheck cases for the elementwise ops (binary with broadcasting,
// scalar forms, every unary op, where, masked_fill, clamp).
#include "autograd/functions/elementwise.h"
#include "autograd/op_cases.h"
#include "tensor/ops/creation.h"

namespace {
using autograd::Variable;
using tensor::DType;
using tensor::Generator;
using tensor::Shape;
using tensor::Tensor;
using Vars = std::vector<Variable>;


#define BINARY_CASES(NAME, FN, MAKE_SAME, MAKE_BCAST)                                                  \
  PM_OP_CASE({NAME, "same shape [3, 4]", MAKE_SAME, [](const Vars& v) { return FN(v[0], v[1]); }}); \
  PM_OP_CASE({NAME, "broadcast [2, 1, 4] x [3, 1]", MAKE_BCAST, [](const Vars& v) { return FN(v[0], v[1]); }});

BINARY_CASES("add", autograd::add, autograd::normal_inputs({{3, 4}, {3, 4}}), autograd::normal_inputs({{2, 1, 4}, {3, 1}}))
BINARY_CASES("sub", autograd::sub, autograd::normal_inputs({{3, 4}, {3, 4}}), autograd::normal_inputs({{2, 1, 4}, {3, 1}}))
BINARY_CASES("mul", autograd::mul, autograd::normal_inputs({{3, 4}, {3, 4}}), autograd::normal_inputs({{2, 1, 4}, {3, 1}}))
BINARY_CASES("div", autograd::div, autograd::uniform_inputs({{3, 4}, {3, 4}}, 0.5, 2.0), autograd::uniform_inputs({{2, 1, 4}, {3, 1}}, 0.5, 2.0))
BINARY_CASES("pow", autograd::pow, autograd::uniform_inputs({{3, 4}, {3, 4}}, 0.5, 2.0), autograd::uniform_inputs({{2, 1, 4}, {3, 1}}, 0.5, 2.0))
BINARY_CASES("maximum", autograd::maximum, autograd::normal_inputs({{3, 4}, {3, 4}}), autograd::normal_inputs({{2, 1, 4}, {3, 1}}))
BINARY_CASES("minimum", autograd::minimum, autograd::normal_inputs({{3, 4}, {3, 4}}), autograd::normal_inputs({{2, 1, 4}, {3, 1}}))

PM_OP_CASE({"add_scalar", "[5]", autograd::normal_inputs({{5}}), [](const Vars& v) { return autograd::add(v[0], 2.5); }});
PM_OP_CASE({"add_scalar", "[2, 3, 2]", autograd::normal_inputs({{2, 3, 2}}), [](const Vars& v) { return v[0] - 1.0; }});
PM_OP_CASE({"mul_scalar", "[5]", autograd::normal_inputs({{5}}), [](const Vars& v) { return autograd::mul(v[0], -3.0); }});
PM_OP_CASE({"mul_scalar", "[2, 3, 2]", autograd::normal_inputs({{2, 3, 2}}), [](const Vars& v) { return v[0] / 4.0; }});
PM_OP_CASE({"pow_scalar", "[5] ^ 3", autograd::normal_inputs({{5}}), [](const Vars& v) { return autograd::pow(v[0], 3.0); }});
PM_OP_CASE({"pow_scalar", "[2, 3] ^ -0.5", autograd::uniform_inputs({{2, 3}}, 0.5, 2.0), [](const Vars& v) { return autograd::pow(v[0], -0.5); }});

// Every unary op at a vector and a 3-d shape; positive inputs where the op needs them.
struct UnarySpec {
  tensor::UnaryOp op;
  bool positive;
};
const UnarySpec kUnary[] = {
    {tensor::UnaryOp::Neg, false},    {tensor::UnaryOp::Exp, false},     {tensor::UnaryOp::Log, true},
    {tensor::UnaryOp::Log1p, true},   {tensor::UnaryOp::Expm1, false},   {tensor::UnaryOp::Sqrt, true},
    {tensor::UnaryOp::Rsqrt, true},   {tensor::UnaryOp::Abs, false},     {tensor::UnaryOp::Sigmoid, false},
    {tensor::UnaryOp::Tanh, false},   {tensor::UnaryOp::Relu, false},    {tensor::UnaryOp::Silu, false},
    {tensor::UnaryOp::Softplus, false}, {tensor::UnaryOp::Gelu, false},  {tensor::UnaryOp::Square, false},
};

struct RegisterUnaryCases {
  RegisterUnaryCases() {
    for (const auto& spec : kUnary) {
      tensor::UnaryOp op = spec.op;
      for (const Shape& s : {Shape{7}, Shape{2, 3, 4}}) {
        autograd::OpCase c{tensor::unary_name(op), "shape " + tensor::shape_str(s),
                           spec.positive ? autograd::uniform_inputs({s}, 0.5, 2.0) : autograd::normal_inputs({s}),
                           [op](const Vars& v) { return autograd::unary(op, v[0]); }};
        autograd::op_cases().push_back(c);
      }
    }
    // softplus above its threshold of 20 is the identity: check that branch too.
    autograd::op_cases().push_back({"softplus", "above threshold", autograd::uniform_inputs({{6}}, 21.0, 30.0),
                                    [](const Vars& v) { return autograd::softplus(v[0]); }});
  }
} register_unary_cases;

std::vector<Tensor> where_inputs(Generator& g, Shape cond, Shape a, Shape b) {
  Tensor c = tensor::compare(tensor::CompareOp::Gt, tensor::randn(cond, DType::Float64, &g), tensor::zeros({}, DType::Float64));
  return {c, tensor::randn(a, DType::Float64, &g), tensor::randn(b, DType::Float64, &g)};
}
PM_OP_CASE({"where", "same shape [3, 4]", [](Generator& g) { return where_inputs(g, {3, 4}, {3, 4}, {3, 4}); },
            [](const Vars& v) { return autograd::where(v[0].data(), v[1], v[2]); }});
PM_OP_CASE({"where", "broadcast cond [4], a [3, 1], b [1, 4]",
            [](Generator& g) { return where_inputs(g, {4}, {3, 1}, {1, 4}); },
            [](const Vars& v) { return autograd::where(v[0].data(), v[1], v[2]); }});
PM_OP_CASE({"masked_fill", "[3, 4] mask [3, 4]", [](Generator& g) { auto in = where_inputs(g, {3, 4}, {3, 4}, {1}); return std::vector<Tensor>{in[1], in[0]}; },
            [](const Vars& v) { return autograd::masked_fill(v[0], v[1].data(), -7.0); }});
PM_OP_CASE({"masked_fill", "[2, 3, 4] mask broadcast [4]", [](Generator& g) { auto in = where_inputs(g, {4}, {2, 3, 4}, {1}); return std::vector<Tensor>{in[1], in[0]}; },
            [](const Vars& v) { return autograd::masked_fill(v[0], v[1].data(), 0.0); }});
PM_OP_CASE({"clamp", "[10] to [-0.5, 0.5]", autograd::normal_inputs({{10}}), [](const Vars& v) { return autograd::clamp(v[0], -0.5, 0.5); }});
PM_OP_CASE({"clamp", "[3, 4] to [0, 1]", autograd::normal_inputs({{3, 4}}), [](const Vars& v) { return autograd::clamp(v[0], 0.0, 1.0); }});

}  // namespace
