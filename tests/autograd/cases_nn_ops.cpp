// cases_nn_ops.cpp: gradcheck cases for the fused ops conv2d, rms_norm, layer_norm and cross_entropy
// (with and without the optional weight/bias inputs, several strides/paddings, ignored rows and
// label smoothing).
#include "autograd/functions/nn_ops.h"
#include "autograd/op_cases.h"
#include "tensor/ops/creation.h"

namespace {
using autograd::Variable;
using tensor::DType;
using tensor::Generator;
using tensor::Shape;
using tensor::Tensor;
using Vars = std::vector<Variable>;


// Logits [N, C] and fixed int64 targets.
std::function<std::vector<Tensor>(Generator&)> logits_and(int64_t C, std::vector<int64_t> targets) {
  return [C, targets](Generator& g) {
    const int64_t N = static_cast<int64_t>(targets.size());
    return std::vector<Tensor>{tensor::randn({N, C}, DType::Float64, &g), tensor::from_vector(targets, {N})};
  };
}

tensor::Conv2dParams conv(int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  tensor::Conv2dParams p;
  p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw;
  return p;
}

// ---- conv2d: inputs x, w[, bias] ------------------------------------------------------------
PM_OP_CASE({"conv2d", "x [2, 3, 7, 6] w [4, 3, 3, 3] bias, stride 2 pad 1", autograd::normal_inputs({{2, 3, 7, 6}, {4, 3, 3, 3}, {4}}),
            [](const Vars& v) { return autograd::conv2d(v[0], v[1], v[2], conv(2, 2, 1, 1)); }});
PM_OP_CASE({"conv2d", "patch embedding x [2, 2, 8, 8] w [3, 2, 4, 4] no bias, stride 4",
            autograd::normal_inputs({{2, 2, 8, 8}, {3, 2, 4, 4}}),
            [](const Vars& v) { return autograd::conv2d(v[0], v[1], Variable(), conv(4, 4, 0, 0)); }});
PM_OP_CASE({"conv2d", "x [1, 2, 5, 7] w [3, 2, 2, 3] bias, stride (1, 2) pad (2, 0)",
            autograd::normal_inputs({{1, 2, 5, 7}, {3, 2, 2, 3}, {3}}),
            [](const Vars& v) { return autograd::conv2d(v[0], v[1], v[2], conv(1, 2, 2, 0)); }});
PM_OP_CASE({"conv2d", "overlapping x [2, 1, 6, 5] w [2, 1, 4, 3] no bias, stride 2 pad (0, 1)",
            autograd::normal_inputs({{2, 1, 6, 5}, {2, 1, 4, 3}}),
            [](const Vars& v) { return autograd::conv2d(v[0], v[1], Variable(), conv(2, 2, 0, 1)); }});

// ---- rms_norm: inputs x[, weight] -----------------------------------------------------------
PM_OP_CASE({"rms_norm", "x [3, 5] with weight", autograd::normal_inputs({{3, 5}, {5}}),
            [](const Vars& v) { return autograd::rms_norm(v[0], v[1], 1e-5); }});
PM_OP_CASE({"rms_norm", "x [2, 3, 4] without weight", autograd::normal_inputs({{2, 3, 4}}),
            [](const Vars& v) { return autograd::rms_norm(v[0], Variable(), 1e-5); }});
PM_OP_CASE({"rms_norm", "x [2, 2, 6] with weight, eps 0.1", autograd::normal_inputs({{2, 2, 6}, {6}}),
            [](const Vars& v) { return autograd::rms_norm(v[0], v[1], 0.1); }});
PM_OP_CASE({"rms_norm", "x [4, 3] without weight", autograd::normal_inputs({{4, 3}}),
            [](const Vars& v) { return autograd::rms_norm(v[0], Variable(), 1e-6); }});

// ---- layer_norm: inputs x[, weight][, bias] -------------------------------------------------
PM_OP_CASE({"layer_norm", "x [4, 5] weight and bias", autograd::normal_inputs({{4, 5}, {5}, {5}}),
            [](const Vars& v) { return autograd::layer_norm(v[0], v[1], v[2], 1e-5); }});
PM_OP_CASE({"layer_norm", "x [2, 3, 4] no weight, no bias", autograd::normal_inputs({{2, 3, 4}}),
            [](const Vars& v) { return autograd::layer_norm(v[0], Variable(), Variable(), 1e-5); }});
PM_OP_CASE({"layer_norm", "x [2, 2, 6] weight only", autograd::normal_inputs({{2, 2, 6}, {6}}),
            [](const Vars& v) { return autograd::layer_norm(v[0], v[1], Variable(), 1e-5); }});
PM_OP_CASE({"layer_norm", "x [3, 4] bias only, eps 0.1", autograd::normal_inputs({{3, 4}, {4}}),
            [](const Vars& v) { return autograd::layer_norm(v[0], Variable(), v[1], 0.1); }});

// ---- cross_entropy: inputs logits, target (int64, never checked) ----------------------------
PM_OP_CASE({"cross_entropy", "logits [4, 5]", logits_and(5, {0, 4, 2, 2}),
            [](const Vars& v) { return autograd::cross_entropy(v[0], v[1].data()); }, {true, false}});
PM_OP_CASE({"cross_entropy", "logits [6, 3] with ignore_index -100 rows", logits_and(3, {1, -100, 0, 2, -100, 1}),
            [](const Vars& v) { return autograd::cross_entropy(v[0], v[1].data()); }, {true, false}});
PM_OP_CASE({"cross_entropy", "logits [5, 4] label smoothing 0.1, ignore_index 3",
            logits_and(4, {3, 0, 1, 3, 2}),
            [](const Vars& v) {
              tensor::CrossEntropyOptions o;
              o.ignore_index = 3, o.label_smoothing = 0.1;
              return autograd::cross_entropy(v[0], v[1].data(), o);
            },
            {true, false}});
PM_OP_CASE({"cross_entropy", "logits [3, 7] label smoothing 0.25", logits_and(7, {6, 0, 3}),
            [](const Vars& v) {
              tensor::CrossEntropyOptions o;
              o.label_smoothing = 0.25;
              return autograd::cross_entropy(v[0], v[1].data(), o);
            },
            {true, false}});

}  // namespace
