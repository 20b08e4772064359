// conv.cpp: CausalConv1d (a composite of differentiable ops) and Conv2d (over autograd::conv2d).
#include "nn/conv.h"

#include <cmath>

#include "autograd/ops.h"
#include "nn/init.h"
#include "tensor/ops.h"

namespace nn {

Variable causal_conv1d(const Variable& x, const Variable& w, const Variable& bias) {
  if (!x.defined() || !w.defined()) throw std::invalid_argument("causal_conv1d: input and weight must be defined");
  if (x.dim() != 3)
    throw std::invalid_argument("causal_conv1d: input must be [B, C, L], got " + tensor::shape_str(x.shape()));
  const int64_t B = x.size(0), C = x.size(1), L = x.size(2);
  const bool w_ok = (w.dim() == 3 && w.size(1) == 1) || w.dim() == 2;
  if (!w_ok || w.size(0) != C)
    throw std::invalid_argument("causal_conv1d: weight of shape " + tensor::shape_str(w.shape()) +
                                " does not fit input " + tensor::shape_str(x.shape()) + " (expected [" +
                                std::to_string(C) + ", 1, K])");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != C))
    throw std::invalid_argument("causal_conv1d: bias of shape " + tensor::shape_str(bias.shape()) + " for " +
                                std::to_string(C) + " channels");
  const int64_t K = w.size(-1);
  Variable wk = autograd::reshape(w, {C, K});
  // Left-pad with K-1 zeros: xp [B, C, L + K - 1]; output t reads xp[t .. t + K - 1].
  Variable xp = x;
  if (K > 1) {
    Tensor zeros = tensor::zeros({B, C, K - 1}, x.dtype(), x.device());
    xp = autograd::cat({Variable(zeros), x}, 2);
  }
  Variable y;
  for (int64_t k = 0; k < K; ++k) {
    // [B, C, L] * [C, 1] (broadcast over B and L)
    Variable term = autograd::mul(autograd::narrow(xp, 2, k, L), autograd::narrow(wk, 1, k, 1));
    y = y.defined() ? autograd::add(y, term) : term;
  }
  if (bias.defined()) y = autograd::add(y, autograd::reshape(bias, {C, 1}));
  return y;
}

CausalConv1d::CausalConv1d(int64_t channels, int64_t kernel_size, bool bias, tensor::Generator* gen,
                           tensor::DType dtype)
    : UnaryModule("CausalConv1d"), channels_(channels), kernel_(kernel_size) {
  if (channels <= 0 || kernel_size <= 0)
    throw std::invalid_argument("CausalConv1d: channels and kernel_size must be positive, got " +
                                std::to_string(channels) + " and " + std::to_string(kernel_size));
  Tensor w = Tensor::empty({channels, 1, kernel_size}, dtype);
  init::kaiming_uniform_(w, gen, std::sqrt(5.0));
  register_parameter("weight", w);
  if (bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(kernel_size));
    Tensor b = Tensor::empty({channels}, dtype);
    init::uniform_(b, gen, -bound, bound);
    register_parameter("bias", b);
  }
}

Variable CausalConv1d::forward(const Variable& x) {
  if (!x.defined() || x.dim() != 3 || x.size(1) != channels_)
    throw std::invalid_argument("CausalConv1d: input must be [B, " + std::to_string(channels_) + ", L], got " +
                                (x.defined() ? tensor::shape_str(x.shape()) : std::string("undefined")));
  return causal_conv1d(x, local_parameter("weight"), has_bias() ? local_parameter("bias") : Variable());
}

std::string CausalConv1d::extra_repr() const {
  return "channels=" + std::to_string(channels_) + ", kernel_size=" + std::to_string(kernel_) +
         ", bias=" + (has_bias() ? "true" : "false");
}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel, Size2 stride, Size2 padding, bool bias,
               tensor::Generator* gen, tensor::DType dtype)
    : UnaryModule("Conv2d"), in_(in_channels), out_(out_channels), kernel_(kernel) {
  if (in_channels <= 0 || out_channels <= 0)
    throw std::invalid_argument("Conv2d: in_channels and out_channels must be positive, got " +
                                std::to_string(in_channels) + " and " + std::to_string(out_channels));
  if (kernel.h <= 0 || kernel.w <= 0 || stride.h <= 0 || stride.w <= 0 || padding.h < 0 || padding.w < 0)
    throw std::invalid_argument("Conv2d: kernel (" + std::to_string(kernel.h) + ", " + std::to_string(kernel.w) +
                                ") and stride (" + std::to_string(stride.h) + ", " + std::to_string(stride.w) +
                                ") must be positive and padding (" + std::to_string(padding.h) + ", " +
                                std::to_string(padding.w) + ") non-negative");
  p_.stride_h = stride.h;
  p_.stride_w = stride.w;
  p_.pad_h = padding.h;
  p_.pad_w = padding.w;
  Tensor w = Tensor::empty({out_channels, in_channels, kernel.h, kernel.w}, dtype);
  init::kaiming_uniform_(w, gen, std::sqrt(5.0));
  register_parameter("weight", w);
  if (bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_channels * kernel.h * kernel.w));
    Tensor b = Tensor::empty({out_channels}, dtype);
    init::uniform_(b, gen, -bound, bound);
    register_parameter("bias", b);
  }
}

Variable Conv2d::forward(const Variable& x) {
  if (!x.defined() || x.dim() != 4 || x.size(1) != in_)
    throw std::invalid_argument("Conv2d: input must be [B, " + std::to_string(in_) + ", H, W], got " +
                                (x.defined() ? tensor::shape_str(x.shape()) : std::string("undefined")));
  return autograd::conv2d(x, local_parameter("weight"), has_bias() ? local_parameter("bias") : Variable(), p_);
}

std::string Conv2d::extra_repr() const {
  auto pair = [](int64_t a, int64_t b) { return "(" + std::to_string(a) + ", " + std::to_string(b) + ")"; };
  return std::to_string(in_) + ", " + std::to_string(out_) + ", kernel_size=" + pair(kernel_.h, kernel_.w) +
         ", stride=" + pair(p_.stride_h, p_.stride_w) + ", padding=" + pair(p_.pad_h, p_.pad_w) +
         ", bias=" + (has_bias() ? "true" : "false");
}

}  // namespace nn
