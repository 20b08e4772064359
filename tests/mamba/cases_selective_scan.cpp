// cases_selective_scan.cpp: gradcheck cases for the fused op selective_scan: several (b, E, L, N),
// chunk sizes that split L unevenly, with and without D / z / delta_bias / softplus, forward and
// reversed time, N = 1, and sequences laid out with adjacent channels (the mixer's layout).
#include "autograd/op_cases.h"
#include "mamba/ops/selective_scan.h"
#include "tensor/ops/creation.h"
#include "tensor/ops/elementwise.h"

namespace {
using autograd::Variable;
using tensor::DType;
using tensor::Generator;
using tensor::Tensor;
using Vars = std::vector<Variable>;

struct ScanCase {
  int64_t b, E, L, N;
  bool D, z, bias, softplus, reverse;
  int64_t chunk;
  bool channels_adjacent = false;  // u, delta, z as transposed [b, L, E] (the mixer's layout)
};

// Inputs u, delta, A, B, C, then D, z, delta_bias where present. delta is positive when no softplus
// follows; A is negative as in the model.
autograd::InputMaker scan_inputs(ScanCase c) {
  return [c](Generator& g) {
    auto seq = [&](Tensor t) { return c.channels_adjacent ? t.reshape({c.b, c.L, c.E}).transpose(1, 2) : t; };
    std::vector<Tensor> in;
    in.push_back(seq(tensor::randn({c.b, c.E, c.L}, DType::Float64, &g)));
    in.push_back(seq(c.softplus ? tensor::randn({c.b, c.E, c.L}, DType::Float64, &g)
                                : tensor::rand({c.b, c.E, c.L}, DType::Float64, &g, 0.05, 1.0)));
    in.push_back(tensor::rand({c.E, c.N}, DType::Float64, &g, -1.5, -0.3));
    in.push_back(tensor::randn({c.b, c.N, c.L}, DType::Float64, &g));
    in.push_back(tensor::randn({c.b, c.N, c.L}, DType::Float64, &g));
    if (c.D) in.push_back(tensor::randn({c.E}, DType::Float64, &g));
    if (c.z) in.push_back(seq(tensor::randn({c.b, c.E, c.L}, DType::Float64, &g)));
    if (c.bias) in.push_back(tensor::rand({c.E}, DType::Float64, &g, -0.5, 0.5));
    return in;
  };
}

autograd::OpFn scan_fn(ScanCase c) {
  return [c](const Vars& v) {
    size_t i = 5;
    Variable D = c.D ? v[i++] : Variable();
    Variable z = c.z ? v[i++] : Variable();
    Variable bias = c.bias ? v[i++] : Variable();
    mamba::ScanOptions o;
    o.delta_softplus = c.softplus, o.reverse = c.reverse, o.chunk_size = c.chunk;
    return mamba::selective_scan(v[0], v[1], v[2], v[3], v[4], D, z, bias, o);
  };
}

#define SCAN_CASE(label, ...)                                                            \
  PM_OP_CASE({"selective_scan", label, scan_inputs(ScanCase{__VA_ARGS__}), scan_fn(ScanCase{__VA_ARGS__})})

SCAN_CASE("b2 E3 L10 N4, D z delta_bias softplus, chunk 4", 2, 3, 10, 4, true, true, true, true, false, 4);
SCAN_CASE("b1 E2 L7 N3 reversed, D z delta_bias softplus, chunk 3", 1, 2, 7, 3, true, true, true, true, true, 3);
SCAN_CASE("b2 E2 L6 N5, no D / z / delta_bias, no softplus", 2, 2, 6, 5, false, false, false, false, false, 64);
SCAN_CASE("b1 E3 L9 N1 reversed, z only, chunk 2", 1, 3, 9, 1, false, true, false, false, true, 2);
SCAN_CASE("b2 E2 L8 N9, D and delta_bias, softplus, chunk 5", 2, 2, 8, 9, true, false, true, true, false, 5);
SCAN_CASE("channels-adjacent u / delta / z, b1 E11 L6 N3 (a full and a partial lane block), all inputs, chunk 4", 1, 11,
          6, 3, true, true, true, true, false, 4, true);
SCAN_CASE("channels-adjacent, reversed, b2 E9 L5 N2, z and delta_bias", 2, 9, 5, 2, false, true, true, true, true, 64,
          true);

}  // namespace
