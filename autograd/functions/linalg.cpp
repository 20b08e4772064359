// linalg.cpp (autograd): the differentiable matrix product. For Y = A @ B (batched, broadcast):
// dA = dY @ B^T and dB = A^T @ dY, each summed over the batch dims its input was broadcast along.
// Vector operands are handled by putting back the dim that matmul promoted them with.
#include "autograd/functions/linalg.h"

#include "tensor/ops/linalg.h"
#include "tensor/ops/reduce.h"

namespace autograd {

using tensor::Shape;
namespace T = tensor;

PM_DIFFERENTIABLE_OP("matmul");

namespace {

struct MatmulBackward final : Node {
  Tensor a, b;  // each saved only when the other input needs its gradient
  Shape a_shape, b_shape;
  const char* name() const override { return "matmul"; }

  std::vector<Tensor> backward(const Tensor& g) override {
    // Work with matrices: a [K] is the row [1, K], b [K] the column [K, 1], and dY gets back the
    // dims matmul dropped for them: [..., M, N].
    const bool a_vec = a_shape.size() == 1, b_vec = b_shape.size() == 1;
    const Shape A_shape = a_vec ? Shape{1, a_shape[0]} : a_shape;  // [..., M, K]
    const Shape B_shape = b_vec ? Shape{b_shape[0], 1} : b_shape;  // [..., K, N]
    const int64_t N = B_shape.back();
    Shape full = g.shape();
    if (a_vec) full.insert(full.end() - (b_vec ? 0 : 1), 1);
    if (b_vec) full.push_back(1);
    const Tensor G = g.reshape(full);  // [..., M, N]

    Tensor ga, gb;
    if (next[0]) {
      const Tensor B = b.reshape(B_shape);
      ga = T::sum_to(T::matmul(G, B.transpose(-1, -2)), A_shape).reshape(a_shape);
    }
    if (next[1]) {
      const Tensor A = a.reshape(A_shape);
      if (B_shape.size() == 2 && A_shape.size() > 2) {
        // One B for a batch of A (x @ W): sum_b A_b^T G_b is a single product over the stacked rows,
        // A^T [K, batch * M] @ G [batch * M, N], with no batch of [K, N] partial results.
        const int64_t K = A_shape.back();
        gb = T::matmul(A.reshape({-1, K}).transpose(0, 1), G.reshape({-1, N}));
      } else {
        gb = T::sum_to(T::matmul(A.transpose(-1, -2), G), B_shape);
      }
      gb = gb.reshape(b_shape);
    }
    return {ga, gb};
  }
  void release_saved() override { a = b = Tensor(); }
};

}  // namespace

Variable matmul(const Variable& a, const Variable& b) {
  Tensor y = T::matmul(a.data(), b.data());
  if (!needs_grad({a, b})) return Variable(y);
  auto n = std::make_shared<MatmulBackward>();
  if (b.requires_grad()) n->a = a.data();
  if (a.requires_grad()) n->b = b.data();
  n->a_shape = a.shape();
  n->b_shape = b.shape();
  return record(y, n, {a, b});
}

}  // namespace autograd
