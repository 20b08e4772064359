// mamba_cuda.h: the CUDA kernels behind mamba's fused ops (selective_scan.cpp and causal_conv1d.cpp
// dispatch here for CUDA tensors after checking their arguments): the selective scan's forward,
// backward and decode step, and the causal conv1d's forward, backward and decode step. Declared in
// every build, defined only in CUDA builds (mamba/ops/cuda/*.cu).
//
// Selective scan layout of the work (selective_scan.cu): one thread per (batch, channel, state n),
// a block holding EG channels x NP states (NP = N rounded up to a power of two, EG = max(128, NP) /
// NP); each thread runs its state's recurrence over the whole sequence, tile by tile (scan_tile()
// steps: 16 for float, 8 for double), with the tile's inputs staged in shared memory; the sums over
// n (y, du, ddelta) go through shared memory, the sums over channels (dB, dC) through warp shuffles
// and atomicAdd. The forward saves the state entering every tile; the backward walks tiles last to
// first, recomputes the tile's states from that checkpoint and runs the adjoint recurrence
// backwards through it (spec §5.1, §5.3, §5.5).
#pragma once
#include "mamba/ops/causal_conv1d.h"
#include "mamba/ops/selective_scan.h"

namespace mamba::cuda {

// Steps between the states the CUDA forward saves (the `checkpoints` chunk on CUDA tensors).
int64_t scan_tile(tensor::DType dtype);

ScanForward selective_scan_forward(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                   const Tensor& C, const Tensor& D, const Tensor& z, const Tensor& delta_bias,
                                   const ScanOptions& opt, bool save_checkpoints);
// `checkpoints` as the CUDA forward saved them ([b, E, ceil(L / scan_tile), N], contiguous).
ScanGrads selective_scan_backward(const Tensor& grad, const Tensor& u, const Tensor& delta, const Tensor& A,
                                  const Tensor& B, const Tensor& C, const Tensor& D, const Tensor& z,
                                  const Tensor& delta_bias, const Tensor& checkpoints, const ScanOptions& opt);
Tensor selective_state_update(const Tensor& state, const Tensor& u, const Tensor& delta, const Tensor& A,
                              const Tensor& B, const Tensor& C, const Tensor& D, const Tensor& z,
                              const Tensor& delta_bias, bool delta_softplus);

Tensor causal_conv1d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvOptions& opt);
ConvGrads causal_conv1d_backward(const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& bias,
                                 const ConvOptions& opt);
Tensor causal_conv1d_update(const Tensor& x_t, const Tensor& conv_state, const Tensor& w, const Tensor& bias,
                            bool silu);

}  // namespace mamba::cuda
