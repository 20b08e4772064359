// causal_conv1d.cu: the depthwise causal conv1d on CUDA (forward, backward, decode step).
//
// Forward: one thread per output (b, e, t) with the K taps read directly (x = 0 outside [0, L));
// threads run over channels first when x's channels are adjacent in memory (the mixer's layout),
// else over steps, so reads and writes coalesce. Backward: a kernel forms dp = grad · silu'(p)
// (recomputing p), a second one gathers dx[s] = Σ_k w[k] dp[target of s through tap k], and a third
// sums dw and dbias per channel over (batch, step) segments into partials that are added up over
// the segments afterwards (fixed order: deterministic).
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "mamba/ops/cuda/mamba_cuda.h"
#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/kernel_utils.cuh"
#include "tensor/ops/creation.h"
#include "tensor/ops/reduce.h"

namespace mamba::cuda {

namespace {

using tensor::cuda::d_exp;

template <typename T> __device__ __forceinline__ T sigmoid_d(T x) { return T(1) / (T(1) + d_exp(-x)); }

template <typename T> struct ConvArgs {
  const T* x;
  int64_t xs[3];
  const T* w;
  int64_t w_se, w_sk;
  const T* bias;
  int64_t bias_s;
  int64_t b, E, L, K;
  bool silu, rev, ef;  // ef: iterate channels fastest
};

// (bi, e, t) of linear index q under the iteration order.
template <typename T> __device__ __forceinline__ void coords(const ConvArgs<T>& a, int64_t q, int64_t& bi, int64_t& e, int64_t& t) {
  if (a.ef) {
    e = q % a.E;
    const int64_t r = q / a.E;
    t = r % a.L;
    bi = r / a.L;
  } else {
    t = q % a.L;
    const int64_t r = q / a.L;
    e = r % a.E;
    bi = r / a.E;
  }
}

// p[t] = bias + Σ_k w[k] x[t ∓ (K-1) ± k] (forward / reversed time), zero outside the sequence.
template <typename T> __device__ __forceinline__ T pre_activation(const ConvArgs<T>& a, int64_t bi, int64_t e, int64_t t) {
  T p = a.bias ? a.bias[e * a.bias_s] : T(0);
  const T* xr = a.x + bi * a.xs[0] + e * a.xs[1];
  for (int64_t k = 0; k < a.K; ++k) {
    const int64_t s = a.rev ? t + (a.K - 1) - k : t - (a.K - 1) + k;
    if (s >= 0 && s < a.L) p += a.w[e * a.w_se + k * a.w_sk] * xr[s * a.xs[2]];
  }
  return p;
}

// y (or dp) of [b, E, L] with strides ys.
template <typename T> __global__ void conv_forward_kernel(ConvArgs<T> a, T* y, int64_t ys0, int64_t ys1, int64_t ys2) {
  const int64_t total = a.b * a.E * a.L;
  for (int64_t q = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; q < total;
       q += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t bi, e, t;
    coords(a, q, bi, e, t);
    const T p = pre_activation(a, bi, e, t);
    y[bi * ys0 + e * ys1 + t * ys2] = a.silu ? p * sigmoid_d(p) : p;
  }
}

// dp = grad · silu'(p) (or grad), into dp laid out like ds.
template <typename T>
__global__ void conv_dp_kernel(ConvArgs<T> a, const T* g, int64_t gs0, int64_t gs1, int64_t gs2, T* dp, int64_t ds0,
                               int64_t ds1, int64_t ds2) {
  const int64_t total = a.b * a.E * a.L;
  for (int64_t q = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; q < total;
       q += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t bi, e, t;
    coords(a, q, bi, e, t);
    T v = g[bi * gs0 + e * gs1 + t * gs2];
    if (a.silu) {
      const T p = pre_activation(a, bi, e, t), s = sigmoid_d(p);
      v *= s * (T(1) + p * (T(1) - s));
    }
    dp[bi * ds0 + e * ds1 + t * ds2] = v;
  }
}

// dx[s] = Σ_k w[k] dp[t], t the output that x[s] reaches through tap k.
template <typename T>
__global__ void conv_dx_kernel(ConvArgs<T> a, const T* dp, int64_t ds0, int64_t ds1, int64_t ds2, T* dx, int64_t xs0,
                               int64_t xs1, int64_t xs2) {
  const int64_t total = a.b * a.E * a.L;
  for (int64_t q = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; q < total;
       q += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t bi, e, s;
    coords(a, q, bi, e, s);
    const T* dr = dp + bi * ds0 + e * ds1;
    T acc = T(0);
    for (int64_t k = 0; k < a.K; ++k) {
      const int64_t t = a.rev ? s - (a.K - 1) + k : s + (a.K - 1) - k;
      if (t >= 0 && t < a.L) acc += a.w[e * a.w_se + k * a.w_sk] * dr[t * ds2];
    }
    dx[bi * xs0 + e * xs1 + s * xs2] = acc;
  }
}

// Partial sums over rows [seg * per, (seg + 1) * per) of the (batch, step) rows: part[seg][e][k] for
// tap k < K (dw) and k = K (dbias). Block (32 channels, 8 row lanes); grid (channel tiles, K + 1, segments).
template <typename T>
__global__ void conv_dw_kernel(ConvArgs<T> a, const T* dp, int64_t ds0, int64_t ds1, int64_t ds2, int64_t per, T* part) {
  __shared__ T red[8][33];
  const int64_t e = blockIdx.x * 32 + threadIdx.x;
  const int64_t k = blockIdx.y, seg = blockIdx.z;
  const int64_t rows = a.b * a.L, r0 = seg * per, r1 = std::min(rows, r0 + per);
  T acc = T(0);
  if (e < a.E) {
    for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) {
      const int64_t bi = r / a.L, t = r % a.L;
      const T d = dp[bi * ds0 + e * ds1 + t * ds2];
      if (k == a.K) {
        acc += d;
      } else {
        const int64_t s = a.rev ? t + (a.K - 1) - k : t - (a.K - 1) + k;
        if (s >= 0 && s < a.L) acc += d * a.x[bi * a.xs[0] + e * a.xs[1] + s * a.xs[2]];
      }
    }
  }
  red[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && e < a.E) {
    T s = T(0);
    for (int y = 0; y < 8; ++y) s += red[y][threadIdx.x];
    part[(seg * a.E + e) * (a.K + 1) + k] = s;
  }
}

// One decoding step per (b, e): shift the state left, append x_t, y = (silu of) bias + Σ_k w[k] state[k].
template <typename T>
__global__ void conv_update_kernel(const T* x, int64_t xs0, int64_t xs1, T* state, const T* w, int64_t w_se, int64_t w_sk,
                                   const T* bias, int64_t bias_s, T* y, int64_t b, int64_t E, int64_t K, bool silu) {
  for (int64_t item = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; item < b * E;
       item += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t bi = item / E, e = item % E;
    T* s = state + item * K;
    for (int64_t k = 0; k + 1 < K; ++k) s[k] = s[k + 1];
    s[K - 1] = x[bi * xs0 + e * xs1];
    T acc = bias ? bias[e * bias_s] : T(0);
    for (int64_t k = 0; k < K; ++k) acc += w[e * w_se + k * w_sk] * s[k];
    y[item] = silu ? acc * sigmoid_d(acc) : acc;
  }
}

bool channels_adjacent(const Tensor& x) { return x.size(1) > 1 && x.stride(1) == 1; }

Tensor like_input(const Tensor& x) {
  const int64_t b = x.size(0), E = x.size(1), L = x.size(2);
  if (channels_adjacent(x)) return Tensor::empty({b, L, E}, x.dtype(), x.device()).transpose(1, 2);
  return Tensor::empty({b, E, L}, x.dtype(), x.device());
}

template <typename T> ConvArgs<T> conv_args(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvOptions& opt) {
  ConvArgs<T> a{};
  a.x = x.data<T>();
  for (int d = 0; d < 3; ++d) a.xs[d] = x.stride(d);
  a.w = w.data<T>();
  a.w_se = w.stride(0), a.w_sk = w.stride(w.dim() - 1);
  if (bias.defined()) a.bias = bias.data<T>(), a.bias_s = bias.stride(0);
  a.b = x.size(0), a.E = x.size(1), a.L = x.size(2), a.K = w.size(-1);
  a.silu = opt.silu, a.rev = opt.reverse, a.ef = channels_adjacent(x);
  return a;
}

}  // namespace

Tensor causal_conv1d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvOptions& opt) {
  const char* op = "causal_conv1d (CUDA)";
  Tensor y = like_input(x);
  const int64_t total = x.numel();
  if (total == 0) return y;
  tensor::dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvArgs<T> a = conv_args<T>(x, w, bias, opt);
    conv_forward_kernel<T><<<tensor::cuda::blocks_for(total), tensor::cuda::kThreads>>>(a, y.data<T>(), y.stride(0),
                                                                                          y.stride(1), y.stride(2));
    PM_CUDA_LAUNCH_CHECK(op);
  });
  return y;
}

ConvGrads causal_conv1d_backward(const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& bias,
                                 const ConvOptions& opt) {
  const char* op = "causal_conv1d_backward (CUDA)";
  const int64_t b = x.size(0), E = x.size(1), L = x.size(2), K = w.size(-1);
  ConvGrads r;
  r.dx = like_input(x);
  const int64_t rows = b * L;
  if (x.numel() == 0) {
    r.dw = tensor::zeros(w.shape(), x.dtype(), x.device());
    if (bias.defined()) r.dbias = tensor::zeros({E}, x.dtype(), x.device());
    return r;
  }
  Tensor dp = like_input(x);
  const int64_t per = std::max<int64_t>(256, (rows + 127) / 128);  // rows per segment: at most 128 segments
  const int64_t segs = (rows + per - 1) / per;
  Tensor part = Tensor::empty({segs, E, K + 1}, x.dtype(), x.device());
  tensor::dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvArgs<T> a = conv_args<T>(x, w, bias, opt);
    const unsigned blocks = tensor::cuda::blocks_for(x.numel());
    conv_dp_kernel<T><<<blocks, tensor::cuda::kThreads>>>(a, grad.data<T>(), grad.stride(0), grad.stride(1), grad.stride(2),
                                                          dp.data<T>(), dp.stride(0), dp.stride(1), dp.stride(2));
    PM_CUDA_LAUNCH_CHECK(op);
    conv_dx_kernel<T><<<blocks, tensor::cuda::kThreads>>>(a, dp.data<T>(), dp.stride(0), dp.stride(1), dp.stride(2),
                                                          r.dx.data<T>(), r.dx.stride(0), r.dx.stride(1), r.dx.stride(2));
    PM_CUDA_LAUNCH_CHECK(op);
    const dim3 grid(static_cast<unsigned>((E + 31) / 32), static_cast<unsigned>(K + 1), static_cast<unsigned>(segs));
    conv_dw_kernel<T><<<grid, dim3(32, 8)>>>(a, dp.data<T>(), dp.stride(0), dp.stride(1), dp.stride(2), per, part.data<T>());
    PM_CUDA_LAUNCH_CHECK(op);
  });
  Tensor sums = tensor::sum(part, {0});  // [E, K + 1]
  r.dw = sums.narrow(1, 0, K).contiguous().view(w.shape());
  if (bias.defined()) r.dbias = sums.select(1, K).contiguous();
  return r;
}

Tensor causal_conv1d_update(const Tensor& x_t, const Tensor& conv_state, const Tensor& w, const Tensor& bias, bool silu) {
  const char* op = "causal_conv1d_update (CUDA)";
  const int64_t b = x_t.size(0), E = x_t.size(1), K = w.size(-1);
  Tensor y = Tensor::empty({b, E}, x_t.dtype(), x_t.device());
  if (b * E == 0) return y;
  tensor::dispatch_float(x_t.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv_update_kernel<T><<<tensor::cuda::blocks_for(b * E), tensor::cuda::kThreads>>>(
        x_t.data<T>(), x_t.stride(0), x_t.stride(1), conv_state.data<T>(), w.data<T>(), w.stride(0), w.stride(w.dim() - 1),
        bias.defined() ? bias.data<T>() : nullptr, bias.defined() ? bias.stride(0) : 0, y.data<T>(), b, E, K, silu);
    PM_CUDA_LAUNCH_CHECK(op);
  });
  return y;
}

}  // namespace mamba::cuda
