// cross_entropy.cu: fused softmax cross-entropy on the GPU (see cross_entropy.h). Per row, with
// lse = log sum_c exp(x_c) (max-shifted, accumulated online: when a larger maximum shows up the
// running sum is rescaled), the CPU's formulas:
//   loss_i = (1 - e) (lse_i - x_{i,t_i}) + e (lse_i - mean_c x_ic)          (e: label smoothing)
//   dx_ic  = (exp(x_ic - lse_i) - q_ic) * g / n_valid,  q_ic = (1 - e) [c = t_i] + e / C
// Rows whose target is ignore_index contribute 0 (and get a zero gradient); with no valid row the
// loss is 0/0 = NaN and the gradient 0, as on the CPU. Sums run in the logits' precision; the mean
// over rows adds double row losses in a fixed order.
#include <algorithm>
#include <limits>
#include <type_traits>

#include "tensor/cuda/cross_entropy.h"
#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/kernel_utils.cuh"
#include "tensor/cuda/launch.cuh"
#include "tensor/cuda/row_group.cuh"

namespace tensor::cuda {
namespace {

constexpr int kWarpRowMax = 1024;  // rows up to this long go one per warp
// 16-byte accesses each thread has in flight per step of a pass, and threads per block at most:
// double's exp needs many registers.
template <typename T> constexpr int unroll() { return sizeof(T) == 8 ? 2 : 4; }
template <typename T> constexpr int max_threads() { return sizeof(T) == 8 ? 512 : 1024; }

// (m, s) <- the pair for the union of two sets, where s = sum exp(x - m) over a set with max m.
template <typename T> __device__ __forceinline__ void combine(T& m, T& s, T m2, T s2) {
  const T M = m2 > m ? m2 : m;
  if (M == neg_infinity<T>()) return;  // both sets are empty or all -inf: s = 0 stays
  s = s * d_exp(m - M) + s2 * d_exp(m2 - M);
  m = M;
}

// Every thread of the group gets the group's (max, sum of exp). The warp's result is lane 0's
// (the butterfly may round differently per lane); the block's comes from shared memory, read in
// warp order by every thread.
template <typename T, bool kWarp> __device__ __forceinline__ void group_max_sum(T& m, T& s, T* sm, T* ss) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const T m2 = __shfl_xor_sync(kFullMask, m, o), s2 = __shfl_xor_sync(kFullMask, s, o);
    combine(m, s, m2, s2);
  }
  m = __shfl_sync(kFullMask, m, 0);
  s = __shfl_sync(kFullMask, s, 0);
  if constexpr (!kWarp) {
    const int warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    __syncthreads();  // earlier readers of sm / ss are done
    if (threadIdx.x % 32 == 0) sm[warp] = m, ss[warp] = s;
    __syncthreads();
    m = sm[0], s = ss[0];
    for (int w = 1; w < nwarps; ++w) combine(m, s, sm[w], ss[w]);
  }
}

// This thread's share of a row's running max m, sum of exp(x - m) and (when want_sum) sum of x.
template <typename T, int V>
__device__ __forceinline__ void row_partials(const T* __restrict__ xr, int64_t C, int64_t first, int64_t step,
                                             bool want_sum, T& m, T& s, T& sx) {
  constexpr int kUnroll = unroll<T>();
  const T ninf = neg_infinity<T>();
  m = ninf, s = T(0), sx = T(0);
  for (int64_t base = first; base < C; base += step * kUnroll) {
    Vec<T, V> xv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {  // all loads first: kUnroll accesses in flight
      if (base + u * step < C) {
        xv[u] = load_vec<T, V>(xr + base + u * step);
      } else {
#pragma unroll
        for (int k = 0; k < V; ++k) xv[u].v[k] = ninf;
      }
    }
    T vmax = ninf;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
#pragma unroll
      for (int k = 0; k < V; ++k) vmax = xv[u].v[k] > vmax ? xv[u].v[k] : vmax;
    if (vmax > m) {
      s *= d_exp(m - vmax);
      m = vmax;
    }
    if (m != ninf) {
#pragma unroll
      for (int u = 0; u < kUnroll; ++u)
#pragma unroll
        for (int k = 0; k < V; ++k) s += d_exp(xv[u].v[k] - m);
    }
    if (want_sum) {
#pragma unroll
      for (int u = 0; u < kUnroll; ++u)
        if (base + u * step < C) {
#pragma unroll
          for (int k = 0; k < V; ++k) sx += xv[u].v[k];
        }
    }
  }
}

// row_loss[i] for every row (0 for ignored rows).
template <typename T, int V, bool kWarp>
__global__ void __launch_bounds__(max_threads<T>())
    ce_forward_kernel(const T* __restrict__ logits, const int64_t* __restrict__ target, int64_t tstride, int64_t N,
                      int64_t C, int64_t ignore, T e, double* __restrict__ row_loss, T* __restrict__ lse_out) {
  __shared__ T sm[32], ss[32];
  const RowGroup<kWarp> grp;
  const int64_t first = static_cast<int64_t>(grp.lane) * V, step = static_cast<int64_t>(grp.size) * V;
  const bool smooth = e != T(0);
  for (int64_t row = grp.first; row < N; row += grp.step) {
    const int64_t t = target[row * tstride];
    if (t == ignore) {
      if (grp.lane == 0) {
        row_loss[row] = 0.0;
        if (lse_out) lse_out[row] = T(0);
      }
      continue;
    }
    const T* xr = logits + row * C;
    T m, s, sx;
    row_partials<T, V>(xr, C, first, step, smooth, m, s, sx);
    group_max_sum<T, kWarp>(m, s, sm, ss);
    if (smooth) sx = grp.sum(sx, sm);
    if (grp.lane == 0) {
      const T lse = m + d_log(s);
      if (lse_out) lse_out[row] = lse;
      // a target out of range (the op throws once the check it queued first reports back) reads nothing
      const T xt = t >= 0 && t < C ? xr[t] : std::numeric_limits<T>::quiet_NaN();
      T loss = (T(1) - e) * (lse - xt);
      if (smooth) loss += e * (lse - sx / static_cast<T>(C));
      row_loss[row] = static_cast<double>(loss);
    }
  }
}

// out = sum of row_loss (fixed order) / n_valid; one block.
template <typename T>
__global__ void ce_mean_kernel(const double* __restrict__ row_loss, int64_t N, const int64_t* __restrict__ n_valid,
                               T* __restrict__ out) {
  __shared__ double scratch[32];
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) acc += row_loss[i];
  acc = block_allreduce(acc, SumOp{}, scratch);
  if (threadIdx.x == 0) *out = static_cast<T>(acc / static_cast<double>(*n_valid));  // 0/0 = NaN: no valid row
}

template <typename T, int V, bool kWarp>
__global__ void __launch_bounds__(max_threads<T>())
    ce_backward_kernel(const T* __restrict__ logits, const int64_t* __restrict__ target, int64_t tstride, int64_t N,
                       int64_t C, int64_t ignore, T e, const T* __restrict__ grad, const int64_t* __restrict__ n_valid,
                       const T* __restrict__ lse_in, T* __restrict__ dx) {
  __shared__ T sm[32], ss[32];
  const RowGroup<kWarp> grp;
  const int64_t first = static_cast<int64_t>(grp.lane) * V, step = static_cast<int64_t>(grp.size) * V;
  const int64_t nv = *n_valid;
  const T scale = nv > 0 ? static_cast<T>(static_cast<double>(*grad) / static_cast<double>(nv)) : T(0);
  const T e_c = e / static_cast<T>(C), hit = T(1) - e;
  for (int64_t row = grp.first; row < N; row += grp.step) {
    const int64_t t = target[row * tstride];
    T* dr = dx + row * C;
    if (t == ignore || nv == 0) {
      Vec<T, V> zero;
#pragma unroll
      for (int k = 0; k < V; ++k) zero.v[k] = T(0);
      for (int64_t i = first; i < C; i += step) store_vec_last<T, V>(dr + i, zero);
      continue;
    }
    const T* xr = logits + row * C;
    T lse;
    if (lse_in) {
      lse = lse_in[row];  // the forward's: the loop below is then the only read of the row
    } else {
      T m, s, sx;
      row_partials<T, V>(xr, C, first, step, false, m, s, sx);
      group_max_sum<T, kWarp>(m, s, sm, ss);
      lse = m + d_log(s);
    }
    constexpr int kUnroll = unroll<T>();
    for (int64_t base = first; base < C; base += step * kUnroll) {
      Vec<T, V> xv[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u)
        if (base + u * step < C) xv[u] = load_vec_last<T, V>(xr + base + u * step);  // from L2, for the last time
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t i = base + u * step;
        if (i < C) {
          Vec<T, V> d;
#pragma unroll
          for (int k = 0; k < V; ++k) {
            const T q = (i + k == t ? hit : T(0)) + e_c;
            d.v[k] = (d_exp(xv[u].v[k] - lse) - q) * scale;
          }
          store_vec_last<T, V>(dr + i, d);  // streamed out: keeps L2 for rows still to be re-read
        }
      }
    }
  }
}

size_t l2_bytes() {
  static const size_t n = [] {
    int dev = 0, v = 0;
    PM_CUDA_CHECK(cudaGetDevice(&dev));
    PM_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrL2CacheSize, dev));
    return static_cast<size_t>(v);
  }();
  return n;
}

template <int N> using int_c = std::integral_constant<int, N>;
template <bool B> using bool_c = std::integral_constant<bool, B>;

// Picks the kernel shape for [N, C] rows and calls launch(V, kWarp, blocks, threads). The grid is
// persistent (rows walked grid-stride) and balanced (every block gets the same number of rows, give
// or take one); `max_rows_in_flight` caps how many rows run at once, `max_block` the block size.
template <typename T, typename F>
void launch_rows(int64_t N, int64_t C, const void* in, const void* out, int64_t max_rows_in_flight, int max_block,
                 F&& launch) {
  constexpr int kV = 16 / static_cast<int>(sizeof(T));
  const bool vec = C % kV == 0 && is_aligned(in, 16) && (!out || is_aligned(out, 16));
  auto go = [&](auto v, auto warp) {
    int threads, rows_per_block;
    if constexpr (decltype(warp)::value) {
      threads = 256, rows_per_block = 8;
    } else {
      const int64_t vectors = (C + decltype(v)::value - 1) / decltype(v)::value;  // ~2 unrolled steps per pass
      threads = static_cast<int>(std::clamp<int64_t>((vectors / (2 * unroll<T>()) + 31) / 32 * 32, 128,
                                                     std::min(max_block, max_threads<T>())));
      rows_per_block = 1;
    }
    const int64_t resident = static_cast<int64_t>(num_sms()) * (2048 / threads);
    const int64_t by_rows = std::max<int64_t>(1, max_rows_in_flight / rows_per_block);
    const int64_t need = (N + rows_per_block - 1) / rows_per_block;
    const int64_t cap = std::max<int64_t>(1, std::min({resident, by_rows, need}));
    const int64_t rounds = (need + cap - 1) / cap;      // rows (or row groups) per block
    const int64_t blocks = (need + rounds - 1) / rounds;  // <= cap, no block idle in the last round
    launch(v, warp, static_cast<unsigned>(blocks), threads);
  };
  const bool warp = C <= kWarpRowMax;
  if (vec && warp) go(int_c<kV>{}, bool_c<true>{});
  else if (vec) go(int_c<kV>{}, bool_c<false>{});
  else if (warp) go(int_c<1>{}, bool_c<true>{});
  else go(int_c<1>{}, bool_c<false>{});
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& n_valid, const CrossEntropyOptions& opt,
                     Tensor* row_lse) {
  const int64_t N = logits.size(0), C = logits.size(1);
  Tensor out = Tensor::empty({}, logits.dtype(), logits.device());
  if (row_lse) *row_lse = Tensor::empty({N}, logits.dtype(), logits.device());
  Tensor row_loss = Tensor::empty({std::max<int64_t>(N, 1)}, DType::Float64, logits.device());
  dispatch_float(logits.dtype(), "cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = logits.data<T>();
    if (N > 0)
      // several blocks per SM: one block's reduction at a row's end overlaps the others' loads
      launch_rows<T>(N, C, xp, nullptr, N, 512, [&](auto v, auto warp, unsigned blocks, int threads) {
        ce_forward_kernel<T, decltype(v)::value, decltype(warp)::value><<<blocks, threads>>>(
            xp, target.data<int64_t>(), target.stride(0), N, C, opt.ignore_index, static_cast<T>(opt.label_smoothing),
            row_loss.data<double>(), row_lse ? row_lse->data<T>() : nullptr);
        PM_CUDA_LAUNCH_CHECK("cross_entropy");
      });
    ce_mean_kernel<T><<<1, 1024>>>(row_loss.data<double>(), N, n_valid.data<int64_t>(), out.data<T>());
    PM_CUDA_LAUNCH_CHECK("cross_entropy");
  });
  return out;
}

Tensor cross_entropy_backward(const Tensor& grad, const Tensor& logits, const Tensor& target, const Tensor& n_valid,
                              const CrossEntropyOptions& opt, const Tensor& row_lse) {
  const int64_t N = logits.size(0), C = logits.size(1);
  Tensor dx = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  if (N == 0) return dx;
  dispatch_float(logits.dtype(), "cross_entropy_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = logits.data<T>();
    T* dp = dx.data<T>();
    // Rows in flight whose logits fit in half of L2: the second read of each row hits L2.
    const int64_t row_bytes = C * static_cast<int64_t>(sizeof(T));
    // (measured on an H100 at (8192, 50280): with the streaming hints of the second pass, L2 serves
    // every second read; without them DRAM reads grew by half)
    // With the forward's log-sum-exp there is no second read, so no cap.
    const T* lp = row_lse.defined() ? row_lse.data<T>() : nullptr;
    const int64_t in_flight =
        lp ? N : std::max<int64_t>(num_sms(), static_cast<int64_t>(l2_bytes() / 2) / row_bytes);
    launch_rows<T>(N, C, xp, dp, in_flight, 512, [&](auto v, auto warp, unsigned blocks, int threads) {
      ce_backward_kernel<T, decltype(v)::value, decltype(warp)::value><<<blocks, threads>>>(
          xp, target.data<int64_t>(), target.stride(0), N, C, opt.ignore_index, static_cast<T>(opt.label_smoothing),
          grad.data<T>(), n_valid.data<int64_t>(), lp, dp);
      PM_CUDA_LAUNCH_CHECK("cross_entropy_backward");
    });
  });
  return dx;
}

}  // namespace tensor::cuda
