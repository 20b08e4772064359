// reference.cpp: the step-by-step selective scan and the composite causal conv1d (test oracles).
#include "mamba/ops/reference.h"

#include <algorithm>

#include "autograd/ops.h"
#include "nn/conv.h"
#include "tensor/ops/creation.h"

namespace mamba {

namespace ag = autograd;

Variable selective_scan_ref(const Variable& u, const Variable& delta, const Variable& A, const Variable& B,
                            const Variable& C, const Variable& D, const Variable& z, const Variable& delta_bias,
                            const ScanOptions& opt) {
  const int64_t b = u.size(0), E = u.size(1), L = u.size(2), N = A.size(1);
  Variable dt = delta;
  if (delta_bias.defined()) dt = ag::add(dt, ag::reshape(delta_bias, {E, 1}));
  if (opt.delta_softplus) dt = ag::softplus(dt);
  Variable h(tensor::zeros({b, E, N}, u.dtype(), u.data().device()));
  // Time is cut into blocks of S steps before single steps are selected: a select's backward writes a
  // tensor of its input's size, so selecting from the blocks keeps long sequences at O(L S) work.
  constexpr int64_t S = 64;
  std::vector<Variable> blocks((L + S - 1) / S);  // outputs, in time order
  for (int64_t s0 = 0; s0 < L; s0 += S) {
    const int64_t len = std::min(S, L - s0);
    const int64_t t0 = opt.reverse ? L - s0 - len : s0;  // the block's first time index
    Variable dt_b = ag::narrow(dt, 2, t0, len), u_b = ag::narrow(u, 2, t0, len);
    Variable B_b = ag::narrow(B, 2, t0, len), C_b = ag::narrow(C, 2, t0, len);
    std::vector<Variable> ys(static_cast<size_t>(len));
    for (int64_t i = 0; i < len; ++i) {
      const int64_t j = opt.reverse ? len - 1 - i : i;        // position inside the block
      Variable dt_t = ag::select(dt_b, 2, j);                  // [b, E]
      Variable u_t = ag::select(u_b, 2, j);                    // [b, E]
      Variable B_t = ag::unsqueeze(ag::select(B_b, 2, j), 1);  // [b, 1, N]
      Variable C_t = ag::unsqueeze(ag::select(C_b, 2, j), 1);  // [b, 1, N]
      Variable decay = ag::exp(ag::mul(ag::unsqueeze(dt_t, 2), A));  // [b, E, N]
      h = ag::add(ag::mul(decay, h), ag::mul(ag::unsqueeze(ag::mul(dt_t, u_t), 2), B_t));
      ys[j] = ag::unsqueeze(ag::sum(ag::mul(h, C_t), {2}), 2);  // [b, E, 1]
    }
    const size_t k = static_cast<size_t>(s0 / S);  // scan order; reversed time visits blocks back to front
    blocks[opt.reverse ? blocks.size() - 1 - k : k] = ag::cat(ys, 2);
  }
  Variable y = ag::cat(blocks, 2);
  if (D.defined()) y = ag::add(y, ag::mul(u, ag::reshape(D, {E, 1})));
  if (z.defined()) y = ag::mul(y, ag::silu(z));
  return y;
}

Variable causal_conv1d_ref(const Variable& x, const Variable& w, const Variable& bias, bool silu, bool reverse) {
  Variable xi = reverse ? ag::flip(x, {2}) : x;
  Variable y = nn::causal_conv1d(xi, w, bias);
  if (silu) y = ag::silu(y);
  return reverse ? ag::flip(y, {2}) : y;
}

}  // namespace mamba
