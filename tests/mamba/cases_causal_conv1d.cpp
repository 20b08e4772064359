// cases_causal_conv1d.cpp: gradcheck cases for the fused op causal_conv1d: kernel widths 1 to 4,
// weights [E, 1, K] and [E, K], with and without bias and fused SiLU, forward and reversed time,
// and sequences shorter than the kernel.
#include "autograd/op_cases.h"
#include "mamba/ops/causal_conv1d.h"
#include "tensor/ops/creation.h"

namespace {
using autograd::Variable;
using Vars = std::vector<Variable>;

autograd::OpFn conv_fn(bool bias, bool silu, bool reverse) {
  return [=](const Vars& v) {
    mamba::ConvOptions o;
    o.silu = silu, o.reverse = reverse;
    return mamba::causal_conv1d(v[0], v[1], bias ? v[2] : Variable(), o);
  };
}

PM_OP_CASE({"causal_conv1d", "x [2, 3, 7] w [3, 1, 4] bias", autograd::normal_inputs({{2, 3, 7}, {3, 1, 4}, {3}}),
            conv_fn(true, false, false)});
PM_OP_CASE({"causal_conv1d", "x [1, 4, 5] w [4, 3] no bias, silu", autograd::normal_inputs({{1, 4, 5}, {4, 3}}),
            conv_fn(false, true, false)});
PM_OP_CASE({"causal_conv1d", "x [2, 2, 6] w [2, 1, 3] bias, silu, reversed",
            autograd::normal_inputs({{2, 2, 6}, {2, 1, 3}, {2}}), conv_fn(true, true, true)});
PM_OP_CASE({"causal_conv1d", "x [1, 3, 2] shorter than w [3, 1, 4], bias, reversed",
            autograd::normal_inputs({{1, 3, 2}, {3, 1, 4}, {3}}), conv_fn(true, false, true)});
PM_OP_CASE({"causal_conv1d", "x [2, 2, 4] w [2, 1, 1] bias, silu", autograd::normal_inputs({{2, 2, 4}, {2, 1, 1}, {2}}),
            conv_fn(true, true, false)});

}  // namespace

// x as a transposed [b, L, E] (channels adjacent: the channel-vectorised kernel; its non-contiguous
// rerun takes the row kernel)
autograd::InputMaker channels_adjacent_inputs(int64_t b, int64_t E, int64_t L, int64_t K) {
  return [=](tensor::Generator& g) {
    return std::vector<tensor::Tensor>{tensor::randn({b, L, E}, tensor::DType::Float64, &g).transpose(1, 2),
                                       tensor::randn({E, 1, K}, tensor::DType::Float64, &g),
                                       tensor::randn({E}, tensor::DType::Float64, &g)};
  };
}
PM_OP_CASE({"causal_conv1d", "channels-adjacent x [2, 11, 6] w [11, 1, 4] bias, silu",
            channels_adjacent_inputs(2, 11, 6, 4), conv_fn(true, true, false)});
PM_OP_CASE({"causal_conv1d", "channels-adjacent x [1, 9, 5] w [9, 1, 3] bias, reversed",
            channels_adjacent_inputs(1, 9, 5, 3), conv_fn(true, false, true)});
