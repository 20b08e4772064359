// conv2d.cu: 2-d convolution on the GPU (see conv2d.h). With K = C*kh*kw and P = Ho*Wo:
//   forward   out_b [O, P] = W [O, K] @ cols_b [K, P]        one strided-batched GEMM per group of
//                                                            images (W's batch stride 0), out written in place
//   backward  g' [O, nb*P] = grad regrouped by channel        (a small permute kernel)
//             dW [O, K]  += g' @ cols'^T                      cols' [K, nb*P]: the group's columns side by side
//             dcols' [K, nb*P] = W^T @ g', then col2im        (a gather per input element)
// Images are processed in groups whose column buffer stays under kColsBudget elements. Every sum
// has a fixed order (GEMMs in sequence, taps in (i, j) order), so results are deterministic.
#include <algorithm>
#include <climits>
#include <string>

#include "tensor/cuda/conv2d.h"
#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/kernel_utils.cuh"
#include "tensor/cuda/launch.cuh"
#include "tensor/cuda/linalg.h"

namespace tensor::cuda {
namespace {

constexpr int64_t kColsBudget = int64_t(1) << 26;  // elements of one group's column buffer (256 MiB float32)

// Sizes of one convolution as 32-bit ints for the kernels' index math (checked to fit).
struct Geom {
  int B, C, H, W, O, kh, kw, sh, sw, ph, pw, Ho, Wo, K, P;
};

int fit(int64_t v, const char* op) {
  if (v < 0 || v > INT_MAX)
    throw std::invalid_argument(std::string(op) + " (cuda): size " + std::to_string(v) + " does not fit 32-bit indexing");
  return static_cast<int>(v);
}

Geom geometry(const char* op, const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  Geom g;
  g.B = fit(x.size(0), op), g.C = fit(x.size(1), op), g.H = fit(x.size(2), op), g.W = fit(x.size(3), op);
  g.O = fit(w.size(0), op), g.kh = fit(w.size(2), op), g.kw = fit(w.size(3), op);
  g.sh = fit(p.stride_h, op), g.sw = fit(p.stride_w, op), g.ph = fit(p.pad_h, op), g.pw = fit(p.pad_w, op);
  g.Ho = fit((x.size(2) + 2 * p.pad_h - w.size(2)) / p.stride_h + 1, op);
  g.Wo = fit((x.size(3) + 2 * p.pad_w - w.size(3)) / p.stride_w + 1, op);
  g.K = fit(x.size(1) * w.size(2) * w.size(3), op);
  g.P = fit(static_cast<int64_t>(g.Ho) * g.Wo, op);
  return g;
}

struct Strides4 {
  int64_t s0, s1, s2, s3;
};
Strides4 strides4(const Tensor& t) { return {t.stride(0), t.stride(1), t.stride(2), t.stride(3)}; }

// Runs f with a 32-bit index type when n fits, else 64-bit (32-bit division is much cheaper).
template <typename F> void with_index(int64_t n, F&& f) {
  if (n <= INT_MAX)
    f(uint32_t{});
  else
    f(int64_t{});
}

#define PM_GRID_STRIDE(I, i, n) \
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += static_cast<I>(gridDim.x) * blockDim.x)

// cols[b*img + k*row + p] = x[b0 + b, c, ho*sh - ph + i, wo*sw - pw + j] (0 in the padding), for
// k = (c, i, j), p = (ho, wo) and b < nb. img/row choose the layout: [nb][K][P] or [K][nb*P].
template <typename T, typename I>
__global__ void im2col_kernel(const T* __restrict__ x, Strides4 xs, Geom g, int64_t b0, I total, T* __restrict__ cols,
                              int64_t img, int64_t row) {
  PM_GRID_STRIDE(I, lin, total) {
    const int p = static_cast<int>(lin % g.P);
    const I t = lin / g.P;
    const int k = static_cast<int>(t % g.K);
    const int64_t b = static_cast<int64_t>(t / g.K);
    const int wo = p % g.Wo, ho = p / g.Wo;
    const int j = k % g.kw, i = (k / g.kw) % g.kh, c = k / (g.kw * g.kh);
    const int hh = ho * g.sh - g.ph + i, ww = wo * g.sw - g.pw + j;
    T v = T(0);
    if (hh >= 0 && hh < g.H && ww >= 0 && ww < g.W) v = x[(b0 + b) * xs.s0 + c * xs.s1 + hh * xs.s2 + ww * xs.s3];
    cols[b * img + k * row + p] = v;
  }
}

// The adjoint of im2col as a gather: dx[b, c, h, w] (contiguous, images from b0 on) = the sum of
// the column entries read from it, taps in (i, j) order.
template <typename T, typename I>
__global__ void col2im_kernel(const T* __restrict__ cols, int64_t img, int64_t row, Geom g, I total, T* __restrict__ dx) {
  PM_GRID_STRIDE(I, lin, total) {
    const int w = static_cast<int>(lin % g.W);
    I t = lin / g.W;
    const int h = static_cast<int>(t % g.H);
    t /= g.H;
    const int c = static_cast<int>(t % g.C);
    const int64_t b = static_cast<int64_t>(t / g.C);
    const T* cb = cols + b * img;
    T acc = T(0);
    for (int i = 0; i < g.kh; ++i) {
      const int hh = h + g.ph - i;  // = ho * sh for the output row that read (h) through tap i
      if (hh < 0) break;
      if (hh % g.sh != 0) continue;
      const int ho = hh / g.sh;
      if (ho >= g.Ho) continue;
      for (int j = 0; j < g.kw; ++j) {
        const int ww = w + g.pw - j;
        if (ww < 0) break;
        if (ww % g.sw != 0) continue;
        const int wo = ww / g.sw;
        if (wo >= g.Wo) continue;
        acc += cb[static_cast<int64_t>((c * g.kh + i) * g.kw + j) * row + ho * g.Wo + wo];
      }
    }
    dx[lin] = acc;
  }
}

// out [B, O, P] = bias[o] everywhere (the GEMM then adds the product with beta = 1).
template <typename T, typename I>
__global__ void bias_fill_kernel(T* __restrict__ out, const T* __restrict__ bias, int64_t bstride, Geom g, I total) {
  PM_GRID_STRIDE(I, lin, total) out[lin] = bias[static_cast<int64_t>((lin / g.P) % g.O) * bstride];
}

// gp [O, nb*P] with gp[o, b*P + p] = grad[b0 + b, o, ho, wo].
template <typename T, typename I>
__global__ void regroup_kernel(const T* __restrict__ grad, Strides4 gs, Geom g, int64_t b0, int nb, I total,
                               T* __restrict__ gp) {
  PM_GRID_STRIDE(I, lin, total) {
    const int p = static_cast<int>(lin % g.P);
    const I t = lin / g.P;
    const int64_t b = static_cast<int64_t>(t % nb), o = static_cast<int64_t>(t / nb);
    gp[lin] = grad[(b0 + b) * gs.s0 + o * gs.s1 + (p / g.Wo) * gs.s2 + (p % g.Wo) * gs.s3];
  }
}

// dbias[o] = sum over (b, ho, wo) of grad; one block per o, a fixed-order block reduction.
template <typename T>
__global__ void dbias_kernel(const T* __restrict__ grad, Strides4 gs, Geom g, T* __restrict__ db) {
  __shared__ T scratch[32];
  const int64_t o = blockIdx.x;
  const int64_t n = static_cast<int64_t>(g.B) * g.P;
  T acc = T(0);
  for (int64_t idx = threadIdx.x; idx < n; idx += blockDim.x) {
    const int64_t b = idx / g.P;
    const int p = static_cast<int>(idx % g.P);
    acc += grad[b * gs.s0 + o * gs.s1 + (p / g.Wo) * gs.s2 + (p % g.Wo) * gs.s3];
  }
  acc = block_allreduce(acc, SumOp{}, scratch);
  if (threadIdx.x == 0) db[o] = acc;
}

template <typename T> void conv_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Geom& g, const Tensor& out) {
  const int64_t KP = static_cast<int64_t>(g.K) * g.P, OP = static_cast<int64_t>(g.O) * g.P;
  const int64_t Bg = std::max<int64_t>(1, std::min<int64_t>(g.B, kColsBudget / KP));
  Tensor cols = Tensor::empty({Bg * KP}, x.dtype(), x.device());
  T* op = out.data<T>();
  if (bias.defined()) {
    const int64_t total = out.numel();
    with_index(total, [&](auto itag) {
      using I = decltype(itag);
      bias_fill_kernel<T, I><<<blocks_for(total), kThreads>>>(op, bias.data<T>(), bias.stride(0), g, static_cast<I>(total));
      PM_CUDA_LAUNCH_CHECK("conv2d");
    });
  }
  const Strides4 xs = strides4(x);
  for (int64_t b0 = 0; b0 < g.B; b0 += Bg) {
    const int64_t nb = std::min<int64_t>(Bg, g.B - b0), total = nb * KP;
    with_index(total, [&](auto itag) {
      using I = decltype(itag);
      im2col_kernel<T, I><<<blocks_for(total), kThreads>>>(x.data<T>(), xs, g, b0, static_cast<I>(total),
                                                           cols.data<T>(), KP, g.P);
      PM_CUDA_LAUNCH_CHECK("conv2d");
    });
    // out_b [O, P] = W [O, K] @ cols_b [K, P] for the nb images of the group
    gemm<T>(false, false, g.O, g.P, g.K, T(1), w.data<T>(), g.K, 0, cols.data<T>(), g.P, KP,
            bias.defined() ? T(1) : T(0), op + b0 * OP, g.P, OP, nb);
  }
}

template <typename T> void conv_backward(const Tensor& grad, const Tensor& x, const Tensor& w, const Geom& g,
                                         const Tensor& dx, const Tensor& dw) {
  const int64_t KP = static_cast<int64_t>(g.K) * g.P, OP = static_cast<int64_t>(g.O) * g.P;
  const int64_t Bg = std::max<int64_t>(1, std::min<int64_t>(g.B, kColsBudget / std::max(KP, OP)));
  Tensor cols = Tensor::empty({Bg * KP}, x.dtype(), x.device());
  Tensor gp = Tensor::empty({Bg * OP}, x.dtype(), x.device());
  const Strides4 xs = strides4(x), gs = strides4(grad);
  const int64_t CHW = static_cast<int64_t>(g.C) * g.H * g.W;
  for (int64_t b0 = 0; b0 < g.B; b0 += Bg) {
    const int64_t nb = std::min<int64_t>(Bg, g.B - b0), wide = nb * g.P;
    const int64_t gp_total = nb * OP;
    if (gp_total > 0)
      with_index(gp_total, [&](auto itag) {
        using I = decltype(itag);
        regroup_kernel<T, I><<<blocks_for(gp_total), kThreads>>>(grad.data<T>(), gs, g, b0, static_cast<int>(nb),
                                                                 static_cast<I>(gp_total), gp.data<T>());
        PM_CUDA_LAUNCH_CHECK("conv2d_backward");
      });
    if (dw.defined()) {  // dW [O, K] (+)= g' [O, nb*P] @ cols'^T, cols' [K, nb*P]
      const int64_t total = nb * KP;
      with_index(total, [&](auto itag) {
        using I = decltype(itag);
        im2col_kernel<T, I><<<blocks_for(total), kThreads>>>(x.data<T>(), xs, g, b0, static_cast<I>(total),
                                                             cols.data<T>(), g.P, wide);
        PM_CUDA_LAUNCH_CHECK("conv2d_backward");
      });
      gemm<T>(false, true, g.O, g.K, wide, T(1), gp.data<T>(), wide, 0, cols.data<T>(), wide, 0,
              b0 == 0 ? T(0) : T(1), dw.data<T>(), g.K, 0, 1);
    }
    if (dx.defined()) {  // dcols' [K, nb*P] = W^T [K, O] @ g' [O, nb*P], folded back onto the images
      gemm<T>(true, false, g.K, wide, g.O, T(1), w.data<T>(), g.K, 0, gp.data<T>(), wide, 0, T(0), cols.data<T>(),
              wide, 0, 1);
      const int64_t total = nb * CHW;
      if (total > 0)
        with_index(total, [&](auto itag) {
          using I = decltype(itag);
          col2im_kernel<T, I><<<blocks_for(total), kThreads>>>(cols.data<T>(), g.P, wide, g, static_cast<I>(total),
                                                               dx.data<T>() + b0 * CHW);
          PM_CUDA_LAUNCH_CHECK("conv2d_backward");
        });
    }
  }
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  const Geom g = geometry("conv2d", x, w, p);
  Tensor out = Tensor::empty({g.B, g.O, g.Ho, g.Wo}, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  dispatch_float(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv_forward<T>(x, w, bias, g, out);
  });
  return out;
}

Conv2dGrads conv2d_backward(const Tensor& grad, const Tensor& x, const Tensor& w, bool has_bias, const Conv2dParams& p,
                            bool need_dx, bool need_dw) {
  const Geom g = geometry("conv2d_backward", x, w, p);
  Conv2dGrads r;
  if (need_dx) r.dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (need_dw) r.dw = Tensor::empty(w.shape(), w.dtype(), w.device());
  dispatch_float(x.dtype(), "conv2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    // With no images (B == 0) the GEMM loop never runs: dW is a sum over nothing.
    if (r.dw.defined() && g.B == 0 && r.dw.numel() > 0)
      PM_CUDA_CHECK(cudaMemsetAsync(r.dw.data<T>(), 0, r.dw.numel() * sizeof(T)));
    if ((need_dx || need_dw) && g.B > 0) conv_backward<T>(grad, x, w, g, r.dx, r.dw);
    if (has_bias) {
      r.dbias = Tensor::empty({g.O}, x.dtype(), x.device());
      if (g.O > 0) {
        dbias_kernel<T><<<g.O, kThreads>>>(grad.data<T>(), strides4(grad), g, r.dbias.data<T>());
        PM_CUDA_LAUNCH_CHECK("conv2d_backward");
      }
    }
  });
  return r;
}

}  // namespace tensor::cuda
#undef PM_GRID_STRIDE
