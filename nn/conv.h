// conv.h: convolution layers: CausalConv1d, the depthwise causal 1-d convolution of Mamba's mixer,
// and Conv2d, the 2-d convolution used to cut images into patch embeddings.
#pragma once
#include "nn/module.h"
#include "tensor/generator.h"
#include "tensor/ops/nn_ops.h"

namespace nn {

// Depthwise causal convolution: x [B, C, L], w [C, 1, K] (or [C, K]), bias [C] or undefined ->
// y [B, C, L] with y[b, c, t] = bias[c] + sum_k w[c, k] * x[b, c, t - (K-1) + k] (x = 0 before t = 0),
// i.e. the first L outputs of nn.Conv1d(C, C, K, groups=C, padding=K-1). Built from differentiable
// ops (zero-padding by cat, then K shifted multiply-adds), so it is also the oracle for a fused kernel.
Variable causal_conv1d(const Variable& x, const Variable& w, const Variable& bias);

class CausalConv1d : public UnaryModule {
 public:
  // weight [C, 1, K] and bias [C] ~ U(+-1/sqrt(K)) (nn.Conv1d's init: fan_in = K for a depthwise conv).
  CausalConv1d(int64_t channels, int64_t kernel_size, bool bias = true, tensor::Generator* gen = nullptr,
               tensor::DType dtype = tensor::DType::Float32);
  Variable forward(const Variable& x) override;  // [B, C, L] -> [B, C, L]

  int64_t channels() const { return channels_; }
  int64_t kernel_size() const { return kernel_; }
  bool has_bias() const { return has_parameter("bias"); }
  std::string extra_repr() const override;

 private:
  int64_t channels_, kernel_;
};

// A pair of sizes (height, width); one number means both.
struct Size2 {
  int64_t h, w;
  Size2(int64_t s) : h(s), w(s) {}  // NOLINT: implicit on purpose, Conv2d(3, 8, 4) reads naturally
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};

class Conv2d : public UnaryModule {
 public:
  // weight [out, in, kh, kw] ~ kaiming_uniform(a = sqrt 5), bias [out] ~ U(+-1/sqrt(in kh kw)), as nn.Conv2d.
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel, Size2 stride = 1, Size2 padding = 0,
         bool bias = true, tensor::Generator* gen = nullptr, tensor::DType dtype = tensor::DType::Float32);
  Variable forward(const Variable& x) override;  // [B, in, H, W] -> [B, out, Ho, Wo]

  int64_t in_channels() const { return in_; }
  int64_t out_channels() const { return out_; }
  Size2 kernel_size() const { return kernel_; }
  const tensor::Conv2dParams& params() const { return p_; }
  bool has_bias() const { return has_parameter("bias"); }
  std::string extra_repr() const override;

 private:
  int64_t in_, out_;
  Size2 kernel_;
  tensor::Conv2dParams p_;
};

}  // namespace nn
