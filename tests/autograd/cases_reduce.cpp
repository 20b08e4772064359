// cases_reduce.cpp: gradcheck cases for sum, mean, var, max, softmax and log_softmax.
#include "autograd/functions/reduce.h"
#include "autograd/op_cases.h"
#include "tensor/ops/creation.h"

namespace {
using autograd::Variable;
using tensor::DType;
using tensor::Generator;
using tensor::Shape;
using tensor::Tensor;
using Vars = std::vector<Variable>;

autograd::InputMaker normal(Shape s) { return autograd::normal_inputs({s}); }

PM_OP_CASE({"sum", "all of [3, 4]", normal({3, 4}), [](const Vars& v) { return autograd::sum(v[0]); }});
PM_OP_CASE({"sum", "dims {0, 2} of [2, 3, 4] keepdim", normal({2, 3, 4}), [](const Vars& v) { return autograd::sum(v[0], {0, 2}, true); }});
PM_OP_CASE({"sum", "leading dim of [5, 3]", normal({5, 3}), [](const Vars& v) { return autograd::sum(v[0], {0}); }});
PM_OP_CASE({"mean", "all of [3, 4]", normal({3, 4}), [](const Vars& v) { return autograd::mean(v[0]); }});
PM_OP_CASE({"mean", "dim -1 of [2, 3, 4]", normal({2, 3, 4}), [](const Vars& v) { return autograd::mean(v[0], {-1}); }});
PM_OP_CASE({"var", "all of [3, 4] unbiased", normal({3, 4}), [](const Vars& v) { return autograd::var(v[0]); }});
PM_OP_CASE({"var", "dim 1 of [2, 5, 3] population keepdim", normal({2, 5, 3}), [](const Vars& v) { return autograd::var(v[0], {1}, 0, true); }});
PM_OP_CASE({"max", "dim 1 of [3, 5]", normal({3, 5}), [](const Vars& v) { return autograd::max(v[0], 1); }});
PM_OP_CASE({"max", "dim 0 of [4, 2, 3] keepdim", normal({4, 2, 3}), [](const Vars& v) { return autograd::max(v[0], 0, true); }});
PM_OP_CASE({"softmax", "dim -1 of [3, 5]", normal({3, 5}), [](const Vars& v) { return autograd::softmax(v[0], -1); }});
PM_OP_CASE({"softmax", "dim 1 of [2, 4, 3]", normal({2, 4, 3}), [](const Vars& v) { return autograd::softmax(v[0], 1); }});
PM_OP_CASE({"log_softmax", "dim -1 of [3, 5]", normal({3, 5}), [](const Vars& v) { return autograd::log_softmax(v[0], -1); }});
PM_OP_CASE({"log_softmax", "dim 0 of [4, 2, 3]", normal({4, 2, 3}), [](const Vars& v) { return autograd::log_softmax(v[0], 0); }});

}  // namespace
