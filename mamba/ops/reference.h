// reference.h: the sequential composites that serve as test oracles for the fused mamba ops. They
// are built only from autograd's differentiable ops (one exp / mul / add / sum per time step for
// the scan), so their gradients come from the engine and share no code with the fused kernels.
// Slow: for tests and parity checks, never for training.
#pragma once
#include "autograd/variable.h"
#include "mamba/ops/selective_scan.h"

namespace mamba {

// The selective scan of selective_scan.h, step by step (opt.chunk_size is ignored).
Variable selective_scan_ref(const Variable& u, const Variable& delta, const Variable& A, const Variable& B,
                            const Variable& C, const Variable& D, const Variable& z, const Variable& delta_bias,
                            const ScanOptions& opt = {});

// Depthwise causal conv1d (nn::causal_conv1d) with an optional SiLU, and in reversed time when
// `reverse` (by flipping the input and output along L).
Variable causal_conv1d_ref(const Variable& x, const Variable& w, const Variable& bias, bool silu, bool reverse);

}  // namespace mamba
