// selective_scan.h: the fused selective scan of Mamba-1 (spec §1.3 step 9, §5), its backward (the
// adjoint recurrence of spec §5.1), the differentiable op built on them, and the single-step state
// update used for decoding. CPU kernels here; CUDA tensors run mamba/ops/cuda/selective_scan.cu.
//
// Dimensions: b batch, E channels (d_inner), L steps, N state size.
//   u, delta, z        [b, E, L]   input, raw step size (before bias/softplus), gate
//   A                  [E, N]      negative real decay rates (A = -exp(A_log))
//   B, C               [b, N, L]   input-dependent, shared by all E channels ("variable B/C")
//   D, delta_bias      [E]         skip weight, step-size bias
// For each (b, e), with h_{-1} = 0 and δ_t = softplus(delta_t + delta_bias) (or without softplus):
//   h_t[n] = exp(δ_t A[e, n]) h_{t-1}[n] + δ_t B[n, t] u_t,    y_t = Σ_n C[n, t] h_t[n] + D[e] u_t
//   out_t  = y_t · silu(z_t)  (or y_t when z is not given)
// `reverse` runs the same recurrence from t = L-1 down to 0, which equals flipping every
// sequence input along L, scanning, and flipping the output back (Vim's backward branch) without
// copying anything.
//
// Inputs may have any strides; D, z and delta_bias may be undefined. All float inputs share one
// dtype (float32 or float64), which is also the accumulation type. The [b, E, L] results (out, du,
// ddelta, dz) are laid out like u: when u's channels are adjacent in memory (u.stride(1) == 1, a
// transposed [b, L, E], the layout the mixer produces) they are transposed views of [b, L, E]
// tensors, otherwise contiguous [b, E, L].
#pragma once
#include "autograd/variable.h"
#include "tensor/tensor.h"

namespace mamba {

using autograd::Variable;
using tensor::Tensor;

struct ScanOptions {
  bool delta_softplus = false;
  bool reverse = false;
  // The forward saves the state entering every chunk of this many steps; the backward restarts the
  // recurrence from those states chunk by chunk (last chunk first) instead of storing every h_t.
  int64_t chunk_size = 64;
};

struct ScanForward {
  Tensor out;          // [b, E, L]
  // [b, E, ceil(L / chunk), N]: the state entering each chunk (when asked for); chunk is
  // opt.chunk_size on the CPU and the kernel's tile on CUDA (mamba::cuda::scan_tile).
  Tensor checkpoints;
  Tensor last_state;   // [b, E, N]: the state after the last step of the scan order
};

// The forward kernel. `save_checkpoints` fills ScanForward::checkpoints for a later backward.
ScanForward selective_scan_forward(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                   const Tensor& C, const Tensor& D, const Tensor& z, const Tensor& delta_bias,
                                   const ScanOptions& opt = {}, bool save_checkpoints = false);

// Gradients of sum(grad * out) with respect to every input (undefined for inputs that are undefined).
// dB and dC are summed over the channels, dA, dD and ddelta_bias over batch and steps; the sums use
// a fixed partition of the channels, so results do not depend on the thread count.
struct ScanGrads {
  Tensor du, ddelta, dA, dB, dC, dD, dz, ddelta_bias;
};
ScanGrads selective_scan_backward(const Tensor& grad, const Tensor& u, const Tensor& delta, const Tensor& A,
                                  const Tensor& B, const Tensor& C, const Tensor& D, const Tensor& z,
                                  const Tensor& delta_bias, const Tensor& checkpoints, const ScanOptions& opt = {});

// The differentiable op "selective_scan" (output [b, E, L]). When `last_state` is given it receives
// the final state [b, E, N] (the decoding cache after a prefill).
Variable selective_scan(const Variable& u, const Variable& delta, const Variable& A, const Variable& B,
                        const Variable& C, const Variable& D, const Variable& z, const Variable& delta_bias,
                        const ScanOptions& opt = {}, Tensor* last_state = nullptr);

// One decoding step, in place on `state` [b, E, N]: u, delta, z [b, E]; B, C [b, N]; A [E, N]; D and
// delta_bias [E] (D, z, delta_bias may be undefined). Returns out [b, E] as the scan would at this step.
Tensor selective_state_update(const Tensor& state, const Tensor& u, const Tensor& delta, const Tensor& A,
                              const Tensor& B, const Tensor& C, const Tensor& D, const Tensor& z,
                              const Tensor& delta_bias, bool delta_softplus);

}  // namespace mamba
