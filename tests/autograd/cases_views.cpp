// cases_views.cpp: gradcheck cases for the differentiable views and rearrangements (view, reshape,
// permute, transpose, narrow, slice, select, expand, squeeze, unsqueeze, flatten, contiguous, cat,
// split, chunk, flip), with negative dims and starts where the op takes them.
#include "autograd/functions/views.h"
#include "autograd/op_cases.h"
#include "tensor/ops/creation.h"

namespace {
using autograd::Variable;
using tensor::DType;
using tensor::Generator;
using tensor::Shape;
using tensor::Tensor;
using Vars = std::vector<Variable>;


// The harness's non-contiguous inputs take every other element of a wider last dim, so merging
// the last dim with another needs a copy: those cases use reshape/flatten, while view only merges
// leading dims or splits the last one.
PM_OP_CASE({"view", "[2, 3, 4] -> [6, 4]", autograd::normal_inputs({{2, 3, 4}}), [](const Vars& v) { return autograd::view(v[0], {6, 4}); }});
PM_OP_CASE({"view", "[3, 4] -> [3, -1, 2]", autograd::normal_inputs({{3, 4}}), [](const Vars& v) { return autograd::view(v[0], {3, -1, 2}); }});
// [3, 4] -> [12] merges the last dim, which a strided input cannot do without a copy: contiguous only.
PM_OP_CASE({"view", "[3, 4] -> [12]", autograd::normal_inputs({{3, 4}}), [](const Vars& v) { return autograd::view(v[0], {12}); },
            {}, {}, /*noncontiguous=*/false});

PM_OP_CASE({"reshape", "[2, 3, 4] -> [4, -1]", autograd::normal_inputs({{2, 3, 4}}), [](const Vars& v) { return autograd::reshape(v[0], {4, -1}); }});
PM_OP_CASE({"reshape", "[5] -> [5, 1]", autograd::normal_inputs({{5}}), [](const Vars& v) { return autograd::reshape(v[0], {5, 1}); }});
PM_OP_CASE({"reshape", "[3, 4] -> [2, 6]", autograd::normal_inputs({{3, 4}}), [](const Vars& v) { return autograd::reshape(v[0], {2, 6}); }});

PM_OP_CASE({"permute", "[2, 3, 4] (2, 0, 1)", autograd::normal_inputs({{2, 3, 4}}), [](const Vars& v) { return autograd::permute(v[0], {2, 0, 1}); }});
PM_OP_CASE({"permute", "[3, 4] (-1, 0)", autograd::normal_inputs({{3, 4}}), [](const Vars& v) { return autograd::permute(v[0], {-1, 0}); }});
PM_OP_CASE({"permute", "[2, 3, 2, 2] (1, -1, 0, 2)", autograd::normal_inputs({{2, 3, 2, 2}}),
            [](const Vars& v) { return autograd::permute(v[0], {1, -1, 0, 2}); }});

PM_OP_CASE({"transpose", "[2, 3, 4] (0, -1)", autograd::normal_inputs({{2, 3, 4}}), [](const Vars& v) { return autograd::transpose(v[0], 0, -1); }});
PM_OP_CASE({"transpose", "[3, 4] (1, 0)", autograd::normal_inputs({{3, 4}}), [](const Vars& v) { return autograd::transpose(v[0], 1, 0); }});

PM_OP_CASE({"narrow", "[5, 3] dim 0 from 1 len 3", autograd::normal_inputs({{5, 3}}), [](const Vars& v) { return autograd::narrow(v[0], 0, 1, 3); }});
PM_OP_CASE({"narrow", "[2, 6] dim -1 from -4 len 2", autograd::normal_inputs({{2, 6}}), [](const Vars& v) { return autograd::narrow(v[0], -1, -4, 2); }});

PM_OP_CASE({"slice", "[7, 3] dim 0 [1:6:2]", autograd::normal_inputs({{7, 3}}), [](const Vars& v) { return autograd::slice(v[0], 0, 1, 6, 2); }});
PM_OP_CASE({"slice", "[3, 8] dim -1 [-6:-1:3]", autograd::normal_inputs({{3, 8}}), [](const Vars& v) { return autograd::slice(v[0], -1, -6, -1, 3); }});
PM_OP_CASE({"slice", "[4, 5] dim 1 [0:100] clamped", autograd::normal_inputs({{4, 5}}), [](const Vars& v) { return autograd::slice(v[0], 1, 0, 100); }});

PM_OP_CASE({"select", "[4, 3] dim 0 index 2", autograd::normal_inputs({{4, 3}}), [](const Vars& v) { return autograd::select(v[0], 0, 2); }});
PM_OP_CASE({"select", "[2, 3, 4] dim -1 index -1", autograd::normal_inputs({{2, 3, 4}}), [](const Vars& v) { return autograd::select(v[0], -1, -1); }});

PM_OP_CASE({"expand", "broadcast [3, 1] -> [2, 3, 4]", autograd::normal_inputs({{3, 1}}), [](const Vars& v) { return autograd::expand(v[0], {2, 3, 4}); }});
PM_OP_CASE({"expand", "broadcast [4] -> [3, 4]", autograd::normal_inputs({{4}}), [](const Vars& v) { return autograd::expand(v[0], {3, 4}); }});
PM_OP_CASE({"expand", "broadcast [2, 1] -> [-1, 3]", autograd::normal_inputs({{2, 1}}), [](const Vars& v) { return autograd::expand(v[0], {-1, 3}); }});

PM_OP_CASE({"squeeze", "[3, 1, 4] dim 1", autograd::normal_inputs({{3, 1, 4}}), [](const Vars& v) { return autograd::squeeze(v[0], 1); }});
PM_OP_CASE({"squeeze", "[1, 5] dim -2", autograd::normal_inputs({{1, 5}}), [](const Vars& v) { return autograd::squeeze(v[0], -2); }});
PM_OP_CASE({"squeeze", "[3, 4] dim 0 (not size 1: no-op)", autograd::normal_inputs({{3, 4}}), [](const Vars& v) { return autograd::squeeze(v[0], 0); }});

PM_OP_CASE({"unsqueeze", "[3, 4] dim 0", autograd::normal_inputs({{3, 4}}), [](const Vars& v) { return autograd::unsqueeze(v[0], 0); }});
PM_OP_CASE({"unsqueeze", "[2, 3, 2] dim -1", autograd::normal_inputs({{2, 3, 2}}), [](const Vars& v) { return autograd::unsqueeze(v[0], -1); }});

PM_OP_CASE({"flatten", "[2, 3, 4] all", autograd::normal_inputs({{2, 3, 4}}), [](const Vars& v) { return autograd::flatten(v[0]); }});
PM_OP_CASE({"flatten", "[2, 3, 2, 2] (1, -2)", autograd::normal_inputs({{2, 3, 2, 2}}), [](const Vars& v) { return autograd::flatten(v[0], 1, -2); }});

PM_OP_CASE({"contiguous", "[3, 4]", autograd::normal_inputs({{3, 4}}), [](const Vars& v) { return autograd::contiguous(v[0]); }});
PM_OP_CASE({"contiguous", "[2, 3] transposed", autograd::normal_inputs({{2, 3}}),
            [](const Vars& v) { return autograd::contiguous(autograd::transpose(v[0], 0, 1)); }});

PM_OP_CASE({"cat", "[2, 3] + [4, 3] dim 0", autograd::normal_inputs({{2, 3}, {4, 3}}), [](const Vars& v) { return autograd::cat({v[0], v[1]}, 0); }});
PM_OP_CASE({"cat", "[2, 3] + [2, 1] + [2, 2] dim -1", autograd::normal_inputs({{2, 3}, {2, 1}, {2, 2}}),
            [](const Vars& v) { return autograd::cat({v[0], v[1], v[2]}, -1); }});
PM_OP_CASE({"cat", "same input twice [3, 2] dim 1", autograd::normal_inputs({{3, 2}}), [](const Vars& v) { return autograd::cat({v[0], v[0]}, 1); }});

// split and chunk return pieces; the cases put them back in reverse order so every piece's
// gradient lands somewhere else than where it came from.
Variable reversed_cat(std::vector<Variable> ps, int64_t dim) { return autograd::cat({ps.rbegin(), ps.rend()}, dim); }
PM_OP_CASE({"split", "[5, 3] size 2 dim 0", autograd::normal_inputs({{5, 3}}), [](const Vars& v) { return reversed_cat(autograd::split(v[0], 2, 0), 0); }});
PM_OP_CASE({"split", "[2, 7] size 3 dim -1", autograd::normal_inputs({{2, 7}}), [](const Vars& v) { return reversed_cat(autograd::split(v[0], 3, -1), -1); }});
PM_OP_CASE({"split", "[4, 2] one piece used", autograd::normal_inputs({{4, 2}}), [](const Vars& v) { return autograd::split(v[0], 3, 0)[1]; }});
PM_OP_CASE({"chunk", "[5, 2] 3 chunks dim 0", autograd::normal_inputs({{5, 2}}), [](const Vars& v) { return reversed_cat(autograd::chunk(v[0], 3, 0), 0); }});
PM_OP_CASE({"chunk", "[3, 6] 4 chunks dim -1", autograd::normal_inputs({{3, 6}}), [](const Vars& v) { return reversed_cat(autograd::chunk(v[0], 4, -1), -1); }});

PM_OP_CASE({"flip", "[3, 4] dim 0", autograd::normal_inputs({{3, 4}}), [](const Vars& v) { return autograd::flip(v[0], {0}); }});
PM_OP_CASE({"flip", "[2, 3, 4] dims (-1, 0)", autograd::normal_inputs({{2, 3, 4}}), [](const Vars& v) { return autograd::flip(v[0], {-1, 0}); }});

}  // namespace
