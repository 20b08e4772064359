// nn_ops.h: the fused neural-network kernels: conv2d (im2col + GEMM), RMSNorm, LayerNorm and
// softmax cross-entropy, each with its backward. Inputs float32 or float64.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace tensor {

struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
};
// x [B, C, H, W], w [O, C, kh, kw], bias [O] or undefined -> [B, O, Ho, Wo].
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p);
struct Conv2dGrads {
  Tensor dx, dw, dbias;  // dbias undefined when there is no bias
};
// need_dx / need_dw off skip that product (dx or dw is then undefined): a patch embedding never
// needs the image's gradient.
Conv2dGrads conv2d_backward(const Tensor& grad, const Tensor& x, const Tensor& w, bool has_bias, const Conv2dParams& p,
                            bool need_dx = true, bool need_dw = true);

// y = x * rstd * weight over the last dim, rstd = 1/sqrt(mean(x^2) + eps). Returns y and rstd
// ([*x.shape[:-1]], float of x's dtype) for the backward. weight may be undefined (no scale).
struct NormForward {
  Tensor y, mean, rstd;  // mean undefined for RMSNorm
};
NormForward rms_norm(const Tensor& x, const Tensor& weight, double eps);
struct NormGrads {
  Tensor dx, dweight, dbias;
};
NormGrads rms_norm_backward(const Tensor& grad, const Tensor& x, const Tensor& weight, const Tensor& rstd);
// y = (x - mean) * rstd * weight + bias over the last dim (weight/bias may be undefined).
NormForward layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
NormGrads layer_norm_backward(const Tensor& grad, const Tensor& x, const Tensor& weight, const Tensor& mean,
                              const Tensor& rstd, bool has_bias);

// Mean cross-entropy of logits [N, C] against int64 targets [N]; targets equal to ignore_index
// do not count (mean over the rest). label_smoothing e mixes the one-hot target with the uniform
// distribution: q = (1-e) onehot + e/C. Returns a 0-d loss.
struct CrossEntropyOptions {
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
};
// With `row_lse`, also returns each row's log-sum-exp [N] (logits' dtype; 0 for ignored rows), which
// lets the backward read the logits once instead of recomputing it.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& opt = {},
                     Tensor* row_lse = nullptr);
// dL/dlogits given the upstream scalar gradient grad (0-d); `row_lse` is the forward's (recomputed
// when undefined).
Tensor cross_entropy_backward(const Tensor& grad, const Tensor& logits, const Tensor& target,
                              const CrossEntropyOptions& opt = {}, const Tensor& row_lse = Tensor());

}  // namespace tensor
