// linalg.h: matrix products. matmul follows torch.matmul: 1-d operands are promoted, batch dims
// broadcast. Transposed operands (a `.transpose(-1, -2)` view) reach the GEMM as a flag, not a copy.
#pragma once
#include "tensor/tensor.h"

namespace tensor {

Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);   // [M, K] @ [K, N]
Tensor bmm(const Tensor& a, const Tensor& b);  // [B, M, K] @ [B, K, N]

}  // namespace tensor
