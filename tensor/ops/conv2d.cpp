// conv2d.cpp: 2-d convolution on the CPU as im2col + GEMM, and its backward (col2im of W^T g for
// dx, g @ cols^T summed over the batch for dw). One image at a time, images in parallel. CUDA
// tensors go to tensor/cuda/conv2d.h.
#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/loops.h"
#include "tensor/cuda/conv2d.h"
#include "tensor/cuda/dispatch.h"
#include "tensor/ops/nn_ops.h"

namespace tensor {
namespace {

// Sizes of one convolution. K = C*kh*kw rows of the column matrix, P = Ho*Wo columns.
struct ConvGeom {
  int64_t B, C, H, W, O, kh, kw, Ho, Wo, K, P;
  Conv2dParams p;
};

std::string params_str(const Conv2dParams& p) {
  return "stride (" + std::to_string(p.stride_h) + ", " + std::to_string(p.stride_w) + "), padding (" +
         std::to_string(p.pad_h) + ", " + std::to_string(p.pad_w) + ")";
}

ConvGeom check_conv(const char* op, const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  check_defined(op, x, "input");
  check_defined(op, w, "weight");
  check_same_device(op, x, w);
  check_same_dtype(op, x, w);
  if (x.dim() != 4 || w.dim() != 4)
    throw std::invalid_argument(std::string(op) + ": expected input [B, C, H, W] and weight [O, C, kh, kw], got " +
                                shape_str(x.shape()) + " and " + shape_str(w.shape()));
  if (x.size(1) != w.size(1))
    throw std::invalid_argument(std::string(op) + ": input " + shape_str(x.shape()) + " has " +
                                std::to_string(x.size(1)) + " channels but weight " + shape_str(w.shape()) +
                                " expects " + std::to_string(w.size(1)));
  if (p.stride_h < 1 || p.stride_w < 1 || p.pad_h < 0 || p.pad_w < 0)
    throw std::invalid_argument(std::string(op) + ": strides must be >= 1 and padding >= 0, got " + params_str(p));
  ConvGeom g;
  g.B = x.size(0), g.C = x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.O = w.size(0), g.kh = w.size(2), g.kw = w.size(3);
  g.p = p;
  const int64_t hp = g.H + 2 * p.pad_h, wp = g.W + 2 * p.pad_w;
  if (g.kh < 1 || g.kw < 1 || g.kh > hp || g.kw > wp)
    throw std::invalid_argument(std::string(op) + ": kernel " + shape_str({g.kh, g.kw}) + " of weight " +
                                shape_str(w.shape()) + " does not fit input " + shape_str(x.shape()) + " with " +
                                params_str(p));
  g.Ho = (hp - g.kh) / p.stride_h + 1;
  g.Wo = (wp - g.kw) / p.stride_w + 1;
  g.K = g.C * g.kh * g.kw;
  g.P = g.Ho * g.Wo;
  return g;
}

// The output columns wo in [lo, hi) whose input column wo*s - pad + j lies inside [0, W).
void valid_range(int64_t W, int64_t Wo, int64_t s, int64_t pad, int64_t j, int64_t& lo, int64_t& hi) {
  const int64_t a = pad - j, b = W + pad - j;  // need a <= wo*s < b
  lo = a <= 0 ? 0 : (a + s - 1) / s;
  hi = b <= 0 ? 0 : std::min(Wo, (b + s - 1) / s);
  if (hi < lo) hi = lo;
}

// cols [K, P] from one image x [C, H, W]: cols[(c, i, j), (ho, wo)] = x[c, ho*sh - ph + i, wo*sw - pw + j] (0 outside).
template <typename T> void im2col(const T* x, const ConvGeom& g, T* cols) {
  const int64_t sh = g.p.stride_h, sw = g.p.stride_w;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = cols + ((c * g.kh + i) * g.kw + j) * g.P;
        int64_t lo, hi;
        valid_range(g.W, g.Wo, sw, g.p.pad_w, j, lo, hi);
        for (int64_t ho = 0; ho < g.Ho; ++ho) {
          T* out = row + ho * g.Wo;
          const int64_t hi_in = ho * sh - g.p.pad_h + i;
          if (hi_in < 0 || hi_in >= g.H) {
            std::fill(out, out + g.Wo, T(0));
            continue;
          }
          const T* src = x + (c * g.H + hi_in) * g.W;
          const int64_t shift = j - g.p.pad_w;  // input column of wo is wo*sw + shift
          std::fill(out, out + lo, T(0));
          for (int64_t wo = lo; wo < hi; ++wo) out[wo] = src[wo * sw + shift];
          std::fill(out + hi, out + g.Wo, T(0));
        }
      }
}

// The adjoint of im2col: adds every cols entry back onto the input element it was read from.
template <typename T> void col2im(const T* cols, const ConvGeom& g, T* dx) {
  const int64_t sh = g.p.stride_h, sw = g.p.stride_w;
  std::fill(dx, dx + g.C * g.H * g.W, T(0));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = cols + ((c * g.kh + i) * g.kw + j) * g.P;
        int64_t lo, hi;
        valid_range(g.W, g.Wo, sw, g.p.pad_w, j, lo, hi);
        for (int64_t ho = 0; ho < g.Ho; ++ho) {
          const int64_t hi_in = ho * sh - g.p.pad_h + i;
          if (hi_in < 0 || hi_in >= g.H) continue;
          const T* in = row + ho * g.Wo;
          T* dst = dx + (c * g.H + hi_in) * g.W;
          const int64_t shift = j - g.p.pad_w;
          for (int64_t wo = lo; wo < hi; ++wo) dst[wo * sw + shift] += in[wo];
        }
      }
}

template <typename T> void conv_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeom& g,
                                        const Tensor& out) {
  const T* xp = x.data<T>();
  const T* wp = w.data<T>();
  const T* bp = bias.defined() ? bias.data<T>() : nullptr;
  T* op = out.data<T>();
  cpu::parallel_for(g.B, g.O * g.K * g.P, [&](int64_t b0, int64_t b1) {
    std::vector<T> cols(static_cast<size_t>(g.K * g.P));
    for (int64_t b = b0; b < b1; ++b) {
      im2col(xp + b * g.C * g.H * g.W, g, cols.data());
      T* ob = op + b * g.O * g.P;  // [O, P]
      for (int64_t o = 0; o < g.O; ++o) std::fill(ob + o * g.P, ob + (o + 1) * g.P, bp ? bp[o] : T(0));
      cpu::gemm<T>(false, false, g.O, g.P, g.K, T(1), wp, g.K, cols.data(), g.P, T(1), ob, g.P);
    }
  });
}

template <typename T> void conv_backward(const Tensor& grad, const Tensor& x, const Tensor& w, const ConvGeom& g,
                                         const Tensor& dx, const Tensor& dw) {
  const T* gp = grad.data<T>();
  const T* xp = x.data<T>();
  const T* wp = w.data<T>();
  T* dxp = dx.defined() ? dx.data<T>() : nullptr;
  // dw partial sums, one per chunk of images, added in chunk order so the result does not
  // depend on which thread finished first.
  std::map<int64_t, std::vector<T>> partial;
  std::mutex mu;
  cpu::parallel_for(g.B, 2 * g.O * g.K * g.P, [&](int64_t b0, int64_t b1) {
    std::vector<T> cols(static_cast<size_t>(g.K * g.P));
    std::vector<T> dw_part(dw.defined() ? static_cast<size_t>(g.O * g.K) : 0, T(0));
    for (int64_t b = b0; b < b1; ++b) {
      const T* gb = gp + b * g.O * g.P;  // [O, P]
      if (dw.defined()) {                // dw [O, K] += g_b [O, P] @ cols^T [P, K]
        im2col(xp + b * g.C * g.H * g.W, g, cols.data());
        cpu::gemm<T>(false, true, g.O, g.K, g.P, T(1), gb, g.P, cols.data(), g.P, T(1), dw_part.data(), g.K);
      }
      if (dxp) {  // dcols [K, P] = W^T [K, O] @ g_b [O, P], then folded back onto the image
        cpu::gemm<T>(true, false, g.K, g.P, g.O, T(1), wp, g.K, gb, g.P, T(0), cols.data(), g.P);
        col2im(cols.data(), g, dxp + b * g.C * g.H * g.W);
      }
    }
    if (dw.defined()) {
      std::lock_guard<std::mutex> lock(mu);
      partial.emplace(b0, std::move(dw_part));
    }
  });
  if (dw.defined()) {
    T* dwp = dw.data<T>();
    std::fill(dwp, dwp + g.O * g.K, T(0));
    for (const auto& kv : partial)
      for (int64_t i = 0; i < g.O * g.K; ++i) dwp[i] += kv.second[i];
  }
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in, const Conv2dParams& p) {
  const ConvGeom g = check_conv("conv2d", x_in, w_in, p);
  Tensor bias;
  if (bias_in.defined()) {
    check_same_device("conv2d", x_in, bias_in);
    check_same_dtype("conv2d", x_in, bias_in);
    if (bias_in.shape() != Shape{g.O})
      throw std::invalid_argument("conv2d: bias of shape " + shape_str(bias_in.shape()) + " for weight " +
                                  shape_str(w_in.shape()) + " (expected [" + std::to_string(g.O) + "])");
    bias = bias_in.contiguous();
  }
  PM_ON_CUDA(x_in, return cuda::conv2d(x_in, w_in.contiguous(), bias, p));
  Tensor x = x_in.contiguous(), w = w_in.contiguous();
  Tensor out = Tensor::empty({g.B, g.O, g.Ho, g.Wo}, x.dtype(), x.device());
  dispatch_float(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv_forward<T>(x, w, bias, g, out);
  });
  return out;
}

Conv2dGrads conv2d_backward(const Tensor& grad_in, const Tensor& x_in, const Tensor& w_in, bool has_bias,
                            const Conv2dParams& p, bool need_dx, bool need_dw) {
  const ConvGeom g = check_conv("conv2d_backward", x_in, w_in, p);
  check_defined("conv2d_backward", grad_in, "gradient");
  check_same_device("conv2d_backward", x_in, grad_in);
  check_same_dtype("conv2d_backward", x_in, grad_in);
  const Shape out_shape{g.B, g.O, g.Ho, g.Wo};
  if (grad_in.shape() != out_shape)
    throw std::invalid_argument("conv2d_backward: gradient of shape " + shape_str(grad_in.shape()) +
                                " for an output of shape " + shape_str(out_shape));
  PM_ON_CUDA(x_in, return cuda::conv2d_backward(grad_in, x_in, w_in.contiguous(), has_bias, p, need_dx, need_dw));
  Tensor grad = grad_in.contiguous(), x = x_in.contiguous(), w = w_in.contiguous();
  Conv2dGrads r;
  if (need_dx) r.dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (need_dw) r.dw = Tensor::empty(w.shape(), w.dtype(), w.device());
  if (need_dx || need_dw)
    dispatch_float(x.dtype(), "conv2d_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      conv_backward<T>(grad, x, w, g, r.dx, r.dw);
    });
  if (has_bias) {  // dbias[o] = sum over (b, ho, wo) of g, accumulated in double
    r.dbias = Tensor::empty({g.O}, x.dtype(), x.device());
    dispatch_float(x.dtype(), "conv2d_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* gp = grad.data<T>();
      T* db = r.dbias.data<T>();
      cpu::parallel_for(g.O, g.B * g.P, [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
          double s = 0;
          for (int64_t b = 0; b < g.B; ++b) {
            const T* row = gp + (b * g.O + o) * g.P;
            for (int64_t i = 0; i < g.P; ++i) s += row[i];
          }
          db[o] = static_cast<T>(s);
        }
      });
    });
  }
  return r;
}

}  // namespace tensor
