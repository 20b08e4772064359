// norms.cu: RMSNorm and LayerNorm over the last dim on the GPU, forward and backward (see
// norms.h). With xhat = (x - mean) * rstd (mean = 0 for RMSNorm) and dxhat = g * w:
//   forward   y = xhat * w + b,  rstd = 1 / sqrt(mean((x - mean)^2) + eps)  (two passes: no cancellation)
//   backward  dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))  (RMSNorm: no mean(dxhat) term)
//             dw = sum over rows of g * xhat,  db = sum over rows of g
// A row kernel re-reads its row for each pass; the row is then in L1/L2, so DRAM sees it once.
#include <algorithm>
#include <type_traits>

#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/kernel_utils.cuh"
#include "tensor/cuda/launch.cuh"
#include "tensor/cuda/norms.h"
#include "tensor/cuda/row_group.cuh"

namespace tensor::cuda {
namespace {

constexpr int kWarpRowMax = 1024;  // rows up to this long go one per warp

// a * b rounded on its own, never fused into a following add: dxhat feeds both mean(dxhat) and
// dxhat - mean(dxhat), which must cancel exactly when D = 1 (an FMA would keep the rounding error).
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }

// y, rstd (and mean when kLayer) for each row of x [rows, D]; w, b may be null.
template <typename T, int V, bool kWarp, bool kLayer>
__global__ void norm_forward_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                                    T* __restrict__ y, T* __restrict__ mean, T* __restrict__ rstd, int64_t rows,
                                    int64_t D, T eps) {
  __shared__ T scratch[32];
  const RowGroup<kWarp> grp;
  const int64_t first = static_cast<int64_t>(grp.lane) * V, step = static_cast<int64_t>(grp.size) * V;
  for (int64_t row = grp.first; row < rows; row += grp.step) {
    const T* xr = x + row * D;
    T mu = T(0);
    if constexpr (kLayer) {
      T s = T(0);
      for (int64_t i = first; i < D; i += step) {
        const Vec<T, V> xv = load_vec<T, V>(xr + i);
#pragma unroll
        for (int k = 0; k < V; ++k) s += xv.v[k];
      }
      s = grp.sum(s, scratch);
      mu = D > 0 ? s / static_cast<T>(D) : T(0);
    }
    T ss = T(0);
    for (int64_t i = first; i < D; i += step) {
      const Vec<T, V> xv = load_vec<T, V>(xr + i);
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const T c = xv.v[k] - mu;
        ss += c * c;
      }
    }
    ss = grp.sum(ss, scratch);
    const T r = T(1) / d_sqrt((D > 0 ? ss / static_cast<T>(D) : T(0)) + eps);
    if (grp.lane == 0) {
      rstd[row] = r;
      if constexpr (kLayer) mean[row] = mu;
    }
    T* yr = y + row * D;
    for (int64_t i = first; i < D; i += step) {
      const Vec<T, V> xv = load_vec<T, V>(xr + i);
      Vec<T, V> out;
#pragma unroll
      for (int k = 0; k < V; ++k) out.v[k] = (xv.v[k] - mu) * r;
      if (w) {
        const Vec<T, V> wv = load_vec<T, V>(w + i);
#pragma unroll
        for (int k = 0; k < V; ++k) out.v[k] *= wv.v[k];
      }
      if (b) {
        const Vec<T, V> bv = load_vec<T, V>(b + i);
#pragma unroll
        for (int k = 0; k < V; ++k) out.v[k] += bv.v[k];
      }
      store_vec<T, V>(yr + i, out);
    }
  }
}

// dx for each row from g, x, the saved statistics and w (may be null); mean unused unless kLayer.
template <typename T, int V, bool kWarp, bool kLayer>
__global__ void norm_backward_kernel(const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ w,
                                     const T* __restrict__ mean, const T* __restrict__ rstd, T* __restrict__ dx,
                                     int64_t rows, int64_t D) {
  __shared__ T scratch[32];
  const RowGroup<kWarp> grp;
  const int64_t first = static_cast<int64_t>(grp.lane) * V, step = static_cast<int64_t>(grp.size) * V;
  for (int64_t row = grp.first; row < rows; row += grp.step) {
    const T* xr = x + row * D;
    const T* gr = g + row * D;
    const T mu = kLayer ? mean[row] : T(0), rs = rstd[row];
    T sum_dxh = T(0), dot = T(0);
    for (int64_t i = first; i < D; i += step) {
      const Vec<T, V> xv = load_vec<T, V>(xr + i), gv = load_vec<T, V>(gr + i);
      Vec<T, V> wv;
      if (w) wv = load_vec<T, V>(w + i);
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const T xh = (xv.v[k] - mu) * rs, dxh = w ? mul_rn(gv.v[k], wv.v[k]) : gv.v[k];
        sum_dxh += dxh;
        dot += dxh * xh;
      }
    }
    dot = grp.sum(dot, scratch);
    T m1 = T(0);
    if constexpr (kLayer) {
      sum_dxh = grp.sum(sum_dxh, scratch);
      m1 = D > 0 ? sum_dxh / static_cast<T>(D) : T(0);
    }
    const T m2 = D > 0 ? dot / static_cast<T>(D) : T(0);
    T* dr = dx + row * D;
    for (int64_t i = first; i < D; i += step) {
      const Vec<T, V> xv = load_vec<T, V>(xr + i), gv = load_vec<T, V>(gr + i);
      Vec<T, V> wv;
      if (w) wv = load_vec<T, V>(w + i);
      Vec<T, V> out;
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const T xh = (xv.v[k] - mu) * rs, dxh = w ? mul_rn(gv.v[k], wv.v[k]) : gv.v[k];
        out.v[k] = rs * (dxh - m1 - xh * m2);
      }
      store_vec<T, V>(dr + i, out);
    }
  }
}

// Column partial sums of g * xhat (dw_part) and g (db_part, when not null) over one chunk of rows:
// block (32, 8) covers 32 columns; its 8 thread rows walk the chunk's rows, then add up in order.
template <typename T>
__global__ void param_partials_kernel(const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ mean,
                                      const T* __restrict__ rstd, int64_t rows, int64_t D, int64_t rows_per_chunk,
                                      T* __restrict__ dw_part, T* __restrict__ db_part) {
  __shared__ T sw[8][33], sb[8][33];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t col = static_cast<int64_t>(blockIdx.x) * 32 + tx, chunk = blockIdx.y;
  const int64_t r0 = chunk * rows_per_chunk, r1 = min(rows, r0 + rows_per_chunk);
  T aw = T(0), ab = T(0);
  if (col < D) {
    for (int64_t r = r0 + ty; r < r1; r += 8) {
      const T gv = g[r * D + col];
      if (dw_part) aw += gv * ((x[r * D + col] - (mean ? mean[r] : T(0))) * rstd[r]);
      ab += gv;
    }
  }
  sw[ty][tx] = aw;
  sb[ty][tx] = ab;
  __syncthreads();
  if (ty == 0 && col < D) {
    T s = T(0), t = T(0);
#pragma unroll
    for (int k = 0; k < 8; ++k) s += sw[k][tx], t += sb[k][tx];
    if (dw_part) dw_part[chunk * D + col] = s;
    if (db_part) db_part[chunk * D + col] = t;
  }
}

// out[c] = sum over chunks k (in order) of part[k * D + c].
template <typename T>
__global__ void param_finish_kernel(const T* __restrict__ part, int64_t chunks, int64_t D, T* __restrict__ out) {
  for (int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; c < D;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    T s = T(0);
    for (int64_t k = 0; k < chunks; ++k) s += part[k * D + c];
    out[c] = s;
  }
}

template <int N> using int_c = std::integral_constant<int, N>;
template <bool B> using bool_c = std::integral_constant<bool, B>;

// Picks the row kernel's shape for [rows, D] and calls launch(V, kWarp, grid, block) with V and
// kWarp as integral constants. V = 16 bytes of elements when every pointer allows it.
template <typename T, typename F>
void launch_rows(int64_t rows, int64_t D, std::initializer_list<const void*> ptrs, F&& launch) {
  constexpr int kV = 16 / static_cast<int>(sizeof(T));
  bool vec = D % kV == 0;
  for (const void* p : ptrs)
    if (p && !is_aligned(p, 16)) vec = false;
  const int64_t resident_threads = static_cast<int64_t>(num_sms()) * 2048;
  auto go = [&](auto v, auto warp) {
    int threads;
    int64_t blocks;
    if constexpr (decltype(warp)::value) {
      threads = 256;  // 8 rows per block
      blocks = std::min<int64_t>((rows + 7) / 8, resident_threads / threads);
    } else {
      const int64_t vectors = (D + decltype(v)::value - 1) / decltype(v)::value;  // ~4 accesses per thread and pass
      threads = static_cast<int>(std::clamp<int64_t>((vectors / 4 + 31) / 32 * 32, 128, 1024));
      blocks = std::min<int64_t>(rows, resident_threads / threads);
    }
    launch(v, warp, static_cast<unsigned>(std::max<int64_t>(blocks, 1)), threads);
  };
  const bool warp = D <= kWarpRowMax;
  if (vec && warp) go(int_c<kV>{}, bool_c<true>{});
  else if (vec) go(int_c<kV>{}, bool_c<false>{});
  else if (warp) go(int_c<1>{}, bool_c<true>{});
  else go(int_c<1>{}, bool_c<false>{});
}

template <typename T, bool kLayer>
NormForward forward(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  const int64_t D = x.size(-1);
  const Shape stat_shape(x.shape().begin(), x.shape().end() - 1);
  const int64_t rows = numel_of(stat_shape);
  NormForward r;
  r.y = Tensor::empty(x.shape(), x.dtype(), x.device());
  r.rstd = Tensor::empty(stat_shape, x.dtype(), x.device());
  if (kLayer) r.mean = Tensor::empty(stat_shape, x.dtype(), x.device());
  if (rows == 0) return r;
  const T* xp = x.data<T>();
  const T* wp = weight.defined() ? weight.data<T>() : nullptr;
  const T* bp = bias.defined() ? bias.data<T>() : nullptr;
  T* yp = r.y.data<T>();
  T* mp = kLayer ? r.mean.data<T>() : nullptr;
  T* rp = r.rstd.data<T>();
  launch_rows<T>(rows, D, {xp, wp, bp, yp}, [&](auto v, auto warp, unsigned blocks, int threads) {
    norm_forward_kernel<T, decltype(v)::value, decltype(warp)::value, kLayer>
        <<<blocks, threads>>>(xp, wp, bp, yp, mp, rp, rows, D, static_cast<T>(eps));
    PM_CUDA_LAUNCH_CHECK(op);
  });
  return r;
}

// dweight (when weight is defined) and dbias (when has_bias) as column sums over rows.
template <typename T>
void param_grads(const char* op, const Tensor& grad, const Tensor& x, const T* mean, const T* rstd, int64_t rows,
                 int64_t D, bool want_dw, bool want_db, NormGrads& r) {
  if (want_dw) r.dweight = Tensor::empty({D}, x.dtype(), x.device());
  if (want_db) r.dbias = Tensor::empty({D}, x.dtype(), x.device());
  if ((!want_dw && !want_db) || D == 0) return;
  if (rows == 0) {  // sums over no rows
    if (want_dw) PM_CUDA_CHECK(cudaMemsetAsync(r.dweight.data<T>(), 0, D * sizeof(T)));
    if (want_db) PM_CUDA_CHECK(cudaMemsetAsync(r.dbias.data<T>(), 0, D * sizeof(T)));
    return;
  }
  const int64_t tiles = (D + 31) / 32;
  // enough blocks to fill the GPU about 4 times, each chunk at least 8 rows
  int64_t chunks = std::clamp<int64_t>((4 * num_sms() + tiles - 1) / tiles, 1, std::min<int64_t>((rows + 7) / 8, 1024));
  const int64_t per_chunk = (rows + chunks - 1) / chunks;
  chunks = (rows + per_chunk - 1) / per_chunk;
  Tensor dw_part, db_part;
  if (want_dw) dw_part = Tensor::empty({chunks, D}, x.dtype(), x.device());
  if (want_db) db_part = Tensor::empty({chunks, D}, x.dtype(), x.device());
  T* dwp = want_dw ? dw_part.data<T>() : nullptr;
  T* dbp = want_db ? db_part.data<T>() : nullptr;
  param_partials_kernel<T><<<dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(chunks)), dim3(32, 8)>>>(
      grad.data<T>(), x.data<T>(), mean, rstd, rows, D, per_chunk, dwp, dbp);
  PM_CUDA_LAUNCH_CHECK(op);
  if (want_dw) {
    param_finish_kernel<T><<<blocks_for(D), kThreads>>>(dwp, chunks, D, r.dweight.data<T>());
    PM_CUDA_LAUNCH_CHECK(op);
  }
  if (want_db) {
    param_finish_kernel<T><<<blocks_for(D), kThreads>>>(dbp, chunks, D, r.dbias.data<T>());
    PM_CUDA_LAUNCH_CHECK(op);
  }
}

template <typename T, bool kLayer>
NormGrads backward(const char* op, const Tensor& grad, const Tensor& x, const Tensor& weight, const Tensor& mean,
                   const Tensor& rstd, bool has_bias) {
  const int64_t D = x.size(-1), rows = numel_of(Shape(x.shape().begin(), x.shape().end() - 1));
  NormGrads r;
  r.dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  const T* mp = kLayer ? mean.data<T>() : nullptr;
  const T* rp = rstd.data<T>();
  if (rows > 0 && D > 0) {
    const T* gp = grad.data<T>();
    const T* xp = x.data<T>();
    const T* wp = weight.defined() ? weight.data<T>() : nullptr;
    T* dxp = r.dx.data<T>();
    launch_rows<T>(rows, D, {gp, xp, wp, dxp}, [&](auto v, auto warp, unsigned blocks, int threads) {
      norm_backward_kernel<T, decltype(v)::value, decltype(warp)::value, kLayer>
          <<<blocks, threads>>>(gp, xp, wp, mp, rp, dxp, rows, D);
      PM_CUDA_LAUNCH_CHECK(op);
    });
  }
  param_grads<T>(op, grad, x, mp, rp, rows, D, weight.defined(), has_bias, r);
  return r;
}

}  // namespace

NormForward rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  return dispatch_float(x.dtype(), "rms_norm", [&](auto tag) {
    return forward<typename decltype(tag)::type, false>("rms_norm", x, weight, Tensor(), eps);
  });
}

NormGrads rms_norm_backward(const Tensor& grad, const Tensor& x, const Tensor& weight, const Tensor& rstd) {
  return dispatch_float(x.dtype(), "rms_norm_backward", [&](auto tag) {
    return backward<typename decltype(tag)::type, false>("rms_norm_backward", grad, x, weight, Tensor(), rstd, false);
  });
}

NormForward layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  return dispatch_float(x.dtype(), "layer_norm", [&](auto tag) {
    return forward<typename decltype(tag)::type, true>("layer_norm", x, weight, bias, eps);
  });
}

NormGrads layer_norm_backward(const Tensor& grad, const Tensor& x, const Tensor& weight, const Tensor& mean,
                              const Tensor& rstd, bool has_bias) {
  return dispatch_float(x.dtype(), "layer_norm_backward", [&](auto tag) {
    return backward<typename decltype(tag)::type, true>("layer_norm_backward", grad, x, weight, mean, rstd, has_bias);
  });
}

}  // namespace tensor::cuda
