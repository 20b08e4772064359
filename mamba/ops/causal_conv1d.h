// causal_conv1d.h: the fused depthwise causal 1-d convolution of Mamba's mixer (spec §1.3 step 3-4)
// with an optional fused SiLU, its backward, the differentiable op "causal_conv1d", and the
// single-step form used for decoding. CPU kernels here; CUDA tensors run mamba/ops/cuda/causal_conv1d.cu.
//
// x [b, E, L] (any strides), w [E, K] or [E, 1, K], bias [E] or undefined:
//   p[t] = bias + Σ_{k<K} w[k] · x[t - (K-1) + k]   (x = 0 outside [0, L)): tap K-1 is the current step
//   y[t] = silu(p[t]) when `silu`, else p[t]
// With `reverse` the convolution runs in reversed time, p[t] = bias + Σ_k w[k] · x[t + (K-1) - k],
// which equals flip(conv(flip(x))) along L without copying the flipped sequence (Vim's backward
// branch). y and dx are laid out like x: transposed views of [b, L, E] tensors when x's channels are
// adjacent in memory (x.stride(1) == 1, the mixer's layout), otherwise contiguous [b, E, L].
#pragma once
#include "autograd/variable.h"
#include "tensor/tensor.h"

namespace mamba {

using autograd::Variable;
using tensor::Tensor;

struct ConvOptions {
  bool silu = false;
  bool reverse = false;
};

// y [b, E, L], contiguous.
Tensor causal_conv1d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvOptions& opt = {});

struct ConvGrads {
  Tensor dx, dw, dbias;  // dw has w's shape; dbias undefined without a bias
};
ConvGrads causal_conv1d_backward(const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& bias,
                                 const ConvOptions& opt = {});

// The differentiable op "causal_conv1d".
Variable causal_conv1d(const Variable& x, const Variable& w, const Variable& bias, const ConvOptions& opt = {});

// Decoding. conv_state [b, E, K] holds the last K inputs, the newest in slot K-1.
// The state after a prefill over x [b, E, L]: its last K steps, left-padded with zeros when L < K.
Tensor causal_conv1d_state(const Tensor& x, int64_t K);
// One step, in place on conv_state: shift it left by one, write x_t [b, E] into slot K-1, and return
// y [b, E] = (silu of) bias + Σ_k w[k] · conv_state[k].
Tensor causal_conv1d_update(const Tensor& x_t, const Tensor& conv_state, const Tensor& w, const Tensor& bias,
                            bool silu);

}  // namespace mamba
