// functional.h: the adapters' math as plain differentiable functions (composites of autograd ops, so
// they run on every device and their backward comes for free): ProDiaL's block-diagonal transform and
// projector, the LoRA branch and DoRA's re-normalised projector; plus graph-free dense forms used to
// merge adapters and as test oracles.
//
// Shapes follow PyTorch: W [d_out, d_in], y = x W^T + b over the last dim of x [..., d_in].
// ProDiaL (docs: ../shared/docs/prodial-method.md §1.2; official code):
//   R [r_b, n, n] with n = d_in / r_b (r_b is the NUMBER of blocks), s [d_out];
//   frozen diagonal (official):  D_b = offdiag(blockdiag(R)) + I - diag(relu(diag(blockdiag(R))))
//   trainable diagonal (ours):   D_b = offdiag(blockdiag(R)) + I - diag(diag(blockdiag(R)))
//   y = s ⊙ (W (D_b x)) + b.
// With R's diagonal at 0 both modes give D_b's diagonal 1; relu'(0) = 0 (our relu's backward, as
// PyTorch's) keeps it there in the frozen mode.
#pragma once
#include "autograd/variable.h"
#include "tensor/tensor.h"

namespace prodial {

using autograd::Variable;
using tensor::Tensor;

// ---- ProDiaL ----------------------------------------------------------------------------------------
// The blocks of D_b from R [r_b, n, n] (same shape): off-diagonal entries are R's, the diagonal is
// 1 - relu(r_ii) (frozen mode) or 1 - r_ii (trainable mode).
Variable prodial_blocks(const Variable& R, bool trainable_diag);
// D_b x computed blockwise: x [..., r_b * n] and blocks [r_b, n, n] -> [..., r_b * n], where block k
// maps x[..., k n : (k+1) n] to blocks[k] @ that slice. No d_in x d_in matrix is formed; with n = 1
// it is an elementwise product.
Variable block_diag_apply(const Variable& x, const Variable& blocks);
// y = s ⊙ (W (D_b x)) + b, blockwise (block product, then W, then row scale). b may be undefined.
Variable prodial_linear(const Variable& x, const Variable& W, const Variable& b, const Variable& R,
                        const Variable& s, bool trainable_diag);
// The dense D_b [d_in, d_in] (no graph): block_diag of prodial_blocks(R).
Tensor prodial_dense_db(const Tensor& R, bool trainable_diag);
// diag(s) · W · D_b (no graph): ProDiaL's multiplicative part merged into one weight.
Tensor prodial_merged_weight(const Tensor& W, const Tensor& R, const Tensor& s, bool trainable_diag);

// ---- LoRA -------------------------------------------------------------------------------------------
// scale · B (A x): x [..., d_in], A [r, d_in], B [d_out, r] -> [..., d_out].
Variable lora_branch(const Variable& x, const Variable& A, const Variable& B, double scale);
// scale · B A (no graph), [d_out, d_in].
Tensor lora_delta(const Tensor& A, const Tensor& B, double scale);

// ---- DoRA (peft's formulation) ----------------------------------------------------------------------
// The row norms of V = W + scale · B A: ||V[o, :]||_2 for each output o -> [d_out].
Variable dora_weight_norm(const Variable& W, const Variable& A, const Variable& B, double scale);
// peft's DoRA forward: with g = m / ||W + scale B A||_row (the norm detached when detach_norm, as peft
// and the DoRA paper §4.3 do),
//   y = x W^T + b + (g - 1) ⊙ (xd W^T) + g ⊙ scale · B A xd
// where xd is the adapter branch's input (dropout(x) in training, x itself otherwise). With xd = x it
// equals x (g ⊙ (W + scale B A))^T + b, the merged form.
Variable dora_linear(const Variable& x, const Variable& xd, const Variable& W, const Variable& b, const Variable& A,
                     const Variable& B, const Variable& m, double scale, bool detach_norm = true);
// diag(m / ||W + scale B A||_row) (W + scale B A) (no graph).
Tensor dora_merged_weight(const Tensor& W, const Tensor& A, const Tensor& B, const Tensor& m, double scale);

}  // namespace prodial
