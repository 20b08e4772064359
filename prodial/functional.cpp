// functional.cpp: ProDiaL's, LoRA's and DoRA's math as composites of autograd ops (see functional.h).
#include "prodial/functional.h"

#include <stdexcept>

#include "autograd/ops.h"
#include "nn/linear.h"
#include "tensor/ops.h"

namespace prodial {

namespace ag = autograd;

namespace {

void check_blocks(const char* op, const Tensor& R) {
  if (R.dim() != 3 || R.size(1) != R.size(2))
    throw std::invalid_argument(std::string(op) + ": block parameters must be [r_b, n, n], got " +
                                tensor::shape_str(R.shape()));
}

}  // namespace

Variable prodial_blocks(const Variable& R, bool trainable_diag) {
  check_blocks("prodial_blocks", R.data());
  const int64_t n = R.size(1);
  if (n == 1)  // 1x1 blocks are all diagonal: 1 - relu(r) or 1 - r
    return ag::add(ag::neg(trainable_diag ? R : ag::relu(R)), 1.0);
  const Tensor eye = tensor::eye(n, R.dtype(), R.device());  // broadcast over the r_b blocks
  if (trainable_diag) {
    // offdiag(R) + I - diag(R) = I + R ⊙ (1 - 2I)
    const Tensor sign = tensor::add(tensor::mul(eye, -2.0), 1.0);
    return ag::add(ag::mul(R, Variable(sign)), Variable(eye));
  }
  // offdiag(R) + I - relu(diag(R)); R ⊙ I keeps only the diagonal, and relu(0) = 0 off it.
  const Tensor off = tensor::add(tensor::neg(eye), 1.0);
  Variable diag = ag::mul(R, Variable(eye));
  return ag::sub(ag::add(ag::mul(R, Variable(off)), Variable(eye)), ag::relu(diag));
}

Variable block_diag_apply(const Variable& x, const Variable& blocks) {
  check_blocks("block_diag_apply", blocks.data());
  const int64_t rb = blocks.size(0), n = blocks.size(1);
  if (x.dim() < 1 || x.size(-1) != rb * n)
    throw std::invalid_argument("block_diag_apply: input of shape " + tensor::shape_str(x.shape()) +
                                " does not match " + std::to_string(rb) + " blocks of size " + std::to_string(n));
  if (n == 1) return ag::mul(x, ag::reshape(blocks, {rb}));  // a diagonal: scale each feature
  if (rb == 1) return ag::matmul(x, ag::transpose(ag::reshape(blocks, {n, n}), 0, 1));
  // [..., rb n] -> [rb, M, n] @ [rb, n, n]^T -> back to [..., rb n]
  Variable xb = ag::transpose(ag::reshape(x, {-1, rb, n}), 0, 1);       // [rb, M, n]
  Variable zb = ag::matmul(xb, ag::transpose(blocks, 1, 2));             // [rb, M, n]
  return ag::reshape(ag::transpose(zb, 0, 1), x.shape());
}

Variable prodial_linear(const Variable& x, const Variable& W, const Variable& b, const Variable& R, const Variable& s,
                        bool trainable_diag) {
  if (W.dim() != 2 || R.dim() != 3 || R.size(0) * R.size(1) != W.size(1) || s.dim() != 1 || s.size(0) != W.size(0))
    throw std::invalid_argument("prodial_linear: weight " + tensor::shape_str(W.shape()) + ", blocks " +
                                tensor::shape_str(R.shape()) + " and scale " + tensor::shape_str(s.shape()) +
                                " do not fit (need R [r_b, d_in/r_b, d_in/r_b], s [d_out])");
  Variable z = block_diag_apply(x, prodial_blocks(R, trainable_diag));  // D_b x
  Variable y = ag::mul(nn::linear(z, W, Variable()), s);                 // s ⊙ (W D_b x)
  return b.defined() ? ag::add(y, b) : y;
}

Tensor prodial_dense_db(const Tensor& R, bool trainable_diag) {
  check_blocks("prodial_dense_db", R);
  const int64_t rb = R.size(0), n = R.size(1);
  const Tensor blocks = prodial_blocks(Variable(R), trainable_diag).data();
  Tensor D = tensor::zeros({rb * n, rb * n}, R.dtype(), R.device());
  for (int64_t k = 0; k < rb; ++k) D.narrow(0, k * n, n).narrow(1, k * n, n).copy_(blocks.select(0, k));
  return D;
}

Tensor prodial_merged_weight(const Tensor& W, const Tensor& R, const Tensor& s, bool trainable_diag) {
  // Row o of W D_b is D_b^T applied to W[o, :], so W D_b is block_diag_apply over W's rows with the
  // transposed blocks: no d_in x d_in matrix here either.
  const Tensor blocks = prodial_blocks(Variable(R), trainable_diag).data();
  const Tensor wd = block_diag_apply(Variable(W), Variable(blocks.transpose(1, 2))).data();
  return tensor::mul(wd, s.reshape({s.size(0), 1}));
}

Variable lora_branch(const Variable& x, const Variable& A, const Variable& B, double scale) {
  return ag::mul(nn::linear(nn::linear(x, A, Variable()), B, Variable()), scale);
}

Tensor lora_delta(const Tensor& A, const Tensor& B, double scale) { return tensor::mul(tensor::matmul(B, A), scale); }

Variable dora_weight_norm(const Variable& W, const Variable& A, const Variable& B, double scale) {
  Variable V = ag::add(W, ag::mul(ag::matmul(B, A), scale));  // [d_out, d_in]
  return ag::sqrt(ag::sum(ag::square(V), {1}));
}

Variable dora_linear(const Variable& x, const Variable& xd, const Variable& W, const Variable& b, const Variable& A,
                     const Variable& B, const Variable& m, double scale, bool detach_norm) {
  if (m.dim() != 1 || m.size(0) != W.size(0))
    throw std::invalid_argument("dora_linear: magnitude " + tensor::shape_str(m.shape()) + " for weight " +
                                tensor::shape_str(W.shape()) + " (expected [d_out])");
  Variable norm = dora_weight_norm(W, A, B, scale);
  if (detach_norm) norm = norm.detach();
  Variable g = ag::div(m, norm);                               // [d_out]
  Variable xw = nn::linear(xd, W, Variable());                 // xd W^T
  Variable lora = lora_branch(xd, A, B, scale);                // scale B A xd
  if (xd.same(x)) {                                            // no dropout: the merged form
    Variable y = ag::mul(ag::add(xw, lora), g);
    return b.defined() ? ag::add(y, b) : y;
  }
  Variable base = nn::linear(x, W, b);
  return ag::add(ag::add(base, ag::mul(xw, ag::add(g, -1.0))), ag::mul(lora, g));
}

Tensor dora_merged_weight(const Tensor& W, const Tensor& A, const Tensor& B, const Tensor& m, double scale) {
  const Tensor V = tensor::add(W, lora_delta(A, B, scale));
  const Tensor norm = tensor::sqrt(tensor::sum(tensor::square(V), {1}));
  return tensor::mul(V, tensor::div(m, norm).reshape({m.size(0), 1}));
}

}  // namespace prodial
