// reduce.cu: reductions and softmax on the GPU.
//
// Row reductions (sum, mean, var, max/argmax) work on a contiguous [outer, R] matrix through a
// "reducer" (identity, load, combine, store) and one of three launch shapes:
//   - R <= 1024: a warp per row, lanes striding the row, a shuffle reduction;
//   - many long rows: a block per row, 16-byte loads after a scalar head up to alignment, a
//     shuffle + shared-memory block reduction;
//   - few long rows (fewer than ~4 blocks per multiprocessor): each row split across blocks into
//     chunks, per-chunk partials written out, then a warp per row combines them.
// Every combine happens in an order fixed by the launch shape, so results repeat run to run.
// float32 and float64 sums accumulate in double (as the CPU); integer sums in int64; var is the
// CPU's two passes (mean, then the sum of squared deviations, both in double). max keeps
// (value, index) pairs: larger value wins, the smaller index on ties, a NaN over any number and the
// smaller index between NaNs, which is the CPU's "first maximum, first NaN".
//
// Column sums (reducing the leading dims of a contiguous tensor, the bias-gradient shape) read
// x[r, c] with consecutive threads on consecutive columns; the rows are split across blocks and
// the partial sums combined by a second pass of the same kernel.
//
// Softmax / log_softmax rows. Rows up to 1024 are held in a warp's registers: the row maximum,
// the sum of exp(x - max) (in double), the write. Longer rows get a block each: one read pass
// that keeps each thread's running maximum and rescaled sum ("online" softmax; sums per thread in
// the element type, across threads in double), then the write pass, from the row kept in shared
// memory when it fits (one read of x and one write of y in all), else from x read again. The
// backward is one sum over the row (sum g y, or sum g), then the write, with what is read twice
// kept in shared memory where it fits.
#include "tensor/cuda/reduce.h"

#include <algorithm>
#include <limits>
#include <type_traits>

#include "tensor/cuda/kernel_utils.cuh"

namespace tensor::cuda {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---- reducers ----------------------------------------------------------------------------------

// scale * sum, into TO (integer sums are stored as they are).
template <typename T, typename Acc, typename TO> struct SumRed {
  using acc_t = Acc;
  TO* out;
  double scale;
  __device__ __forceinline__ Acc identity() const { return Acc(0); }
  __device__ __forceinline__ Acc load(T v, int64_t, int64_t) const { return static_cast<Acc>(v); }
  __device__ __forceinline__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ __forceinline__ void store(int64_t row, Acc a) const {
    if constexpr (std::is_integral_v<Acc>)
      out[row] = static_cast<TO>(a);
    else
      out[row] = static_cast<TO>(a * scale);
  }
};

// Sum of squared deviations from the row's mean, divided by denom (NaN when denom <= 0).
template <typename T> struct SqDevRed {
  using acc_t = double;
  const double* mean;
  T* out;
  double denom;
  __device__ __forceinline__ double identity() const { return 0.0; }
  __device__ __forceinline__ double load(T v, int64_t row, int64_t) const {
    const double d = static_cast<double>(v) - mean[row];
    return d * d;
  }
  __device__ __forceinline__ double combine(double a, double b) const { return a + b; }
  __device__ __forceinline__ void store(int64_t row, double a) const {
    out[row] = static_cast<T>(denom > 0 ? a / denom : std::numeric_limits<double>::quiet_NaN());
  }
};

template <typename T> struct ArgMaxAcc {
  T v;
  int64_t i;  // -1: no element yet
};

// Found by argument-dependent lookup from warp_allreduce.
template <typename T> __device__ __forceinline__ ArgMaxAcc<T> shfl_xor(ArgMaxAcc<T> a, int lane_mask) {
  return ArgMaxAcc<T>{::tensor::cuda::shfl_xor(a.v, lane_mask), ::tensor::cuda::shfl_xor(a.i, lane_mask)};
}

template <typename T> struct ArgMaxRed {
  using acc_t = ArgMaxAcc<T>;
  T* values;
  int64_t* indices;
  __device__ __forceinline__ acc_t identity() const { return acc_t{T(0), -1}; }
  __device__ __forceinline__ acc_t load(T v, int64_t, int64_t i) const { return acc_t{v, i}; }
  __device__ __forceinline__ acc_t combine(acc_t a, acc_t b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    const bool a_nan = a.v != a.v, b_nan = b.v != b.v;
    if (a_nan || b_nan) {
      if (a_nan && b_nan) return a.i < b.i ? a : b;
      return a_nan ? a : b;
    }
    if (a.v > b.v) return a;
    if (b.v > a.v) return b;
    return a.i < b.i ? a : b;
  }
  __device__ __forceinline__ void store(int64_t row, acc_t a) const {
    values[row] = a.v;
    indices[row] = a.i;
  }
};

template <typename Red> struct CombineOp {
  const Red& red;
  template <typename A> __device__ __forceinline__ A operator()(A a, A b) const { return red.combine(a, b); }
};

// ---- row reduction kernels -------------------------------------------------------------------------

// This thread's partial over elements [begin, end) of `row`, taking begin + tid, begin + tid + nt,
// ... (VEC elements per access after a scalar head up to 16-byte alignment).
template <int VEC, typename T, typename Red>
__device__ __forceinline__ typename Red::acc_t thread_range(const Red& red, const T* row, int64_t begin, int64_t end,
                                                            int tid, int nt, int64_t r) {
  typename Red::acc_t acc = red.identity();
  int64_t body = begin;
  if constexpr (VEC > 1) {
    constexpr uintptr_t kBytes = sizeof(T) * VEC;
    const uintptr_t addr = reinterpret_cast<uintptr_t>(row + begin);
    int64_t head = static_cast<int64_t>(((kBytes - addr % kBytes) % kBytes) / sizeof(T));
    if (head > end - begin) head = end - begin;
    for (int64_t i = begin + tid; i < begin + head; i += nt) acc = red.combine(acc, red.load(row[i], r, i));
    body = begin + head;
    const int64_t nvec = (end - body) / VEC;
    const Vec<T, VEC>* vp = reinterpret_cast<const Vec<T, VEC>*>(row + body);
#pragma unroll 4
    for (int64_t j = tid; j < nvec; j += nt) {
      const Vec<T, VEC> v = vp[j];
#pragma unroll
      for (int k = 0; k < VEC; ++k) acc = red.combine(acc, red.load(v.v[k], r, body + j * VEC + k));
    }
    body += nvec * VEC;
  }
  for (int64_t i = body + tid; i < end; i += nt) acc = red.combine(acc, red.load(row[i], r, i));
  return acc;
}

// A warp per row.
template <typename T, typename Red> __global__ void reduce_rows_warp_kernel(const T* x, int64_t outer, int64_t R, Red red) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (row >= outer) return;  // whole warps leave together
  const int lane = threadIdx.x % 32;
  typename Red::acc_t acc = thread_range<1>(red, x + row * R, 0, R, lane, 32, row);
  acc = warp_allreduce(acc, CombineOp<Red>{red});
  if (lane == 0) red.store(row, acc);
}

// Block (blockIdx.x = row, blockIdx.y = chunk) over elements [chunk * len, (chunk + 1) * len) of
// its row; stores the result, or its partial into partial[row * gridDim.y + chunk].
template <int VEC, typename T, typename Red>
__global__ void reduce_rows_block_kernel(const T* x, int64_t R, int64_t len, Red red, typename Red::acc_t* partial) {
  __shared__ typename Red::acc_t scratch[32];
  const int64_t row = blockIdx.x, chunk = blockIdx.y;
  const int64_t begin = chunk * len, end = begin + len < R ? begin + len : R;
  typename Red::acc_t acc = thread_range<VEC>(red, x + row * R, begin, end, threadIdx.x, blockDim.x, row);
  acc = block_allreduce(acc, CombineOp<Red>{red}, scratch);
  if (threadIdx.x == 0) {
    if (partial)
      partial[row * gridDim.y + chunk] = acc;
    else
      red.store(row, acc);
  }
}

// A warp per row over its `pieces` partials.
template <typename Red>
__global__ void reduce_partials_kernel(const typename Red::acc_t* partial, int64_t outer, int64_t pieces, Red red) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (row >= outer) return;
  const int lane = threadIdx.x % 32;
  typename Red::acc_t acc = red.identity();
  for (int64_t j = lane; j < pieces; j += 32) acc = red.combine(acc, partial[row * pieces + j]);
  acc = warp_allreduce(acc, CombineOp<Red>{red});
  if (lane == 0) red.store(row, acc);
}

// Reduces each row of the contiguous [outer, R] matrix x with `red` (see the file comment).
template <typename T, typename Red>
void reduce_rows(const char* op, const T* x, int64_t outer, int64_t R, const Red& red, Device device) {
  if (outer == 0) return;
  using A = typename Red::acc_t;
  constexpr int kWarpsPerBlock = kThreads / 32;
  if (R <= 1024) {
    reduce_rows_warp_kernel<<<static_cast<unsigned>(ceil_div(outer, kWarpsPerBlock)), kThreads>>>(x, outer, R, red);
    PM_CUDA_LAUNCH_CHECK(op);
    return;
  }
  constexpr int V = vec_width<T>();
  int threads = 128;  // about 8 vectors per thread, 128 to 512 threads
  while (threads < 512 && threads * V * 8 < R) threads *= 2;
  int64_t pieces = 1, len = R;
  const int64_t target = 4 * static_cast<int64_t>(num_sms());  // blocks wanted in flight
  if (outer < target) {
    // split rows into chunks of a multiple of 1024 elements, each at least ~16 per thread
    const int64_t want = ceil_div(target, outer);
    const int64_t most = std::max<int64_t>(1, R / (static_cast<int64_t>(threads) * 16));
    pieces = std::min<int64_t>({want, most, 65535});
    len = ceil_div(ceil_div(R, pieces), 1024) * 1024;
    pieces = ceil_div(R, len);
  }
  const dim3 grid(static_cast<unsigned>(outer), static_cast<unsigned>(pieces));
  if (pieces == 1) {
    reduce_rows_block_kernel<V><<<grid, threads>>>(x, R, len, red, static_cast<A*>(nullptr));
    PM_CUDA_LAUNCH_CHECK(op);
    return;
  }
  const Tensor buf = Tensor::empty({outer * pieces * static_cast<int64_t>(sizeof(A))}, DType::UInt8, device);
  A* partial = static_cast<A*>(buf.raw_data());
  reduce_rows_block_kernel<V><<<grid, threads>>>(x, R, len, red, partial);
  PM_CUDA_LAUNCH_CHECK(op);
  reduce_partials_kernel<<<static_cast<unsigned>(ceil_div(outer, kWarpsPerBlock)), kThreads>>>(partial, outer, pieces, red);
  PM_CUDA_LAUNCH_CHECK(op);
}

// ---- column sums -------------------------------------------------------------------------------------

constexpr int kColX = 32, kColY = 8;  // block: 32 columns x 8 row lanes

// x viewed as [R, C]: block (blockIdx.x, blockIdx.y) sums columns [32 bx, 32 bx + 32) over rows
// [by * rows_per, (by + 1) * rows_per); the block's sum goes to partial[by * C + c] when partial is
// set, else out[c] = scale * sum.
template <typename TI, typename Acc, typename TO>
__global__ void reduce_columns_kernel(const TI* x, int64_t R, int64_t C, int64_t rows_per, Acc* partial, TO* out, double scale) {
  __shared__ Acc sums[kColY][kColX];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColX + threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rows_per;
  const int64_t r1 = r0 + rows_per < R ? r0 + rows_per : R;
  Acc acc = 0;
  if (c < C) {
#pragma unroll 4
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kColY) acc += static_cast<Acc>(x[r * C + c]);
  }
  sums[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    Acc s = sums[0][threadIdx.x];
#pragma unroll
    for (int k = 1; k < kColY; ++k) s += sums[k][threadIdx.x];
    if (partial)
      partial[static_cast<int64_t>(blockIdx.y) * C + c] = s;
    else
      out[c] = static_cast<TO>(s * scale);
  }
}

// ---- softmax ---------------------------------------------------------------------------------------

// A warp per row of R <= 32 E elements, E per lane in registers.
template <typename T, int E, bool LOG> __global__ void softmax_warp_kernel(const T* x, T* y, int64_t outer, int R) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (row >= outer) return;
  const int lane = threadIdx.x % 32;
  const T* xr = x + row * R;
  T* yr = y + row * R;
  T v[E];
  T m = neg_infinity<T>();
#pragma unroll
  for (int k = 0; k < E; ++k) {
    const int i = lane + 32 * k;
    v[k] = i < R ? xr[i] : neg_infinity<T>();
    m = MaxOp{}(m, v[k]);
  }
  m = warp_allreduce(m, MaxOp{});
  if (m == neg_infinity<T>()) m = T(0);  // all -inf: avoid inf - inf, as the CPU
  double s = 0;
#pragma unroll
  for (int k = 0; k < E; ++k) {
    if (lane + 32 * k < R) {
      const T e = d_exp(v[k] - m);
      s += static_cast<double>(e);
      if constexpr (!LOG) v[k] = e;
    }
  }
  s = warp_allreduce(s, SumOp{});
  if constexpr (LOG) {
    const T log_s = static_cast<T>(::log(s));
#pragma unroll
    for (int k = 0; k < E; ++k)
      if (lane + 32 * k < R) yr[lane + 32 * k] = (v[k] - m) - log_s;
  } else {
    const double inv = 1.0 / s;
#pragma unroll
    for (int k = 0; k < E; ++k)
      if (lane + 32 * k < R) yr[lane + 32 * k] = static_cast<T>(static_cast<double>(v[k]) * inv);
  }
}

// A block per row, VEC elements per access (R % VEC == 0 and x, y 16-byte aligned when VEC > 1).
// Pass 1 reads the row once (keeping it in dynamic shared memory when CACHE) while each thread
// tracks its own running maximum m and sum s of exp(x - m), rescaling s when m grows ("online"
// softmax): the exps overlap the loads in flight, and no pass runs without memory traffic. The
// block then combines the (m, s) pairs, and pass 2 writes y from the cached (or re-read) row.
template <typename T, bool LOG, bool CACHE, int VEC> __global__ void softmax_block_kernel(const T* x, T* y, int64_t R) {
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ T scratch_t[32];
  __shared__ double scratch_d[32];
  using V = Vec<T, VEC>;
  const int64_t row = blockIdx.x, nvec = R / VEC;
  const V* xv = reinterpret_cast<const V*>(x + row * R);
  V* yv = reinterpret_cast<V*>(y + row * R);
  V* cache = reinterpret_cast<V*>(smem);
  const int tid = threadIdx.x, nt = blockDim.x;
  const T ninf = neg_infinity<T>();

  T m = ninf, s = T(0);
#pragma unroll 4
  for (int64_t j = tid; j < nvec; j += nt) {
    const V v = xv[j];
    if constexpr (CACHE) cache[j] = v;  // each thread reads back only what it wrote: no barrier
    T vmax = v.v[0];
#pragma unroll
    for (int k = 1; k < VEC; ++k) vmax = MaxOp{}(vmax, v.v[k]);
    const T mn = MaxOp{}(m, vmax);
    if (mn == ninf) continue;  // only -inf so far: nothing to add
    if (mn != m) {
      s *= d_exp(m - mn);  // 0 while m is still -inf
      m = mn;
    }
#pragma unroll
    for (int k = 0; k < VEC; ++k) s += d_exp(v.v[k] - m);  // a NaN makes s NaN, as on the CPU
  }
  T row_max = block_allreduce(m, MaxOp{}, scratch_t);
  const double mine = m == ninf ? 0.0 : static_cast<double>(s) * static_cast<double>(d_exp(m - row_max));
  const double sum = block_allreduce(mine, SumOp{}, scratch_d);
  if (row_max == ninf) row_max = T(0);  // all -inf: the CPU's m = 0 (and sum 0: NaN out)

  T log_s = T(0), inv = T(0);
  if constexpr (LOG)
    log_s = static_cast<T>(::log(sum));
  else
    inv = static_cast<T>(1.0 / sum);
#pragma unroll 4
  for (int64_t j = tid; j < nvec; j += nt) {
    const V v = CACHE ? cache[j] : xv[j];
    V o;
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      if constexpr (LOG)
        o.v[k] = (v.v[k] - row_max) - log_s;
      else
        o.v[k] = d_exp(v.v[k] - row_max) * inv;
    }
    yv[j] = o;
  }
}

// Backward, a warp per row: s = sum(g y) (softmax) or sum(g) (log_softmax), then the write.
template <typename T, int E, bool LOG>
__global__ void softmax_backward_warp_kernel(const T* g, const T* y, T* dx, int64_t outer, int R) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (row >= outer) return;
  const int lane = threadIdx.x % 32;
  const T* gr = g + row * R;
  const T* yr = y + row * R;
  T* dr = dx + row * R;
  T gv[E], yv[E];
  double s = 0;
#pragma unroll
  for (int k = 0; k < E; ++k) {
    const int i = lane + 32 * k;
    gv[k] = i < R ? gr[i] : T(0);
    yv[k] = i < R ? yr[i] : T(0);
    s += LOG ? static_cast<double>(gv[k]) : static_cast<double>(gv[k]) * static_cast<double>(yv[k]);
  }
  s = warp_allreduce(s, SumOp{});
#pragma unroll
  for (int k = 0; k < E; ++k) {
    const int i = lane + 32 * k;
    if (i >= R) continue;
    if constexpr (LOG)
      dr[i] = gv[k] - static_cast<T>(static_cast<double>(d_exp(yv[k])) * s);
    else
      dr[i] = yv[k] * (gv[k] - static_cast<T>(s));
  }
}

// Backward, a block per row. Pass 1 sums g y (softmax) or g (log_softmax); pass 2 writes dx.
// What pass 2 reads again comes from shared memory where it fits: g when CACHE_G, y when CACHE_Y
// (softmax only: log_softmax reads y in pass 2 alone, so caching g leaves nothing read twice).
template <typename T, bool LOG, bool CACHE_G, bool CACHE_Y, int VEC>
__global__ void softmax_backward_block_kernel(const T* g, const T* y, T* dx, int64_t R) {
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ double scratch[32];
  using V = Vec<T, VEC>;
  const int64_t row = blockIdx.x, nvec = R / VEC;
  const V* gv = reinterpret_cast<const V*>(g + row * R);
  const V* yv = reinterpret_cast<const V*>(y + row * R);
  V* dv = reinterpret_cast<V*>(dx + row * R);
  V* gc = reinterpret_cast<V*>(smem);
  V* yc = gc + (CACHE_G ? nvec : 0);
  const int tid = threadIdx.x, nt = blockDim.x;

  T s = T(0);  // this thread's part, in T; the block's sum in double
#pragma unroll 4
  for (int64_t j = tid; j < nvec; j += nt) {
    const V a = gv[j];
    if constexpr (CACHE_G) gc[j] = a;
    if constexpr (LOG) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) s += a.v[k];
    } else {
      const V b = yv[j];
      if constexpr (CACHE_Y) yc[j] = b;
#pragma unroll
      for (int k = 0; k < VEC; ++k) s += a.v[k] * b.v[k];
    }
  }
  const T sum = static_cast<T>(block_allreduce(static_cast<double>(s), SumOp{}, scratch));

#pragma unroll 4
  for (int64_t j = tid; j < nvec; j += nt) {
    const V a = CACHE_G ? gc[j] : gv[j];
    const V b = (CACHE_Y && !LOG) ? yc[j] : yv[j];
    V o;
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      if constexpr (LOG)
        o.v[k] = a.v[k] - d_exp(b.v[k]) * sum;
      else
        o.v[k] = b.v[k] * (a.v[k] - sum);
    }
    dv[j] = o;
  }
}

// Threads for a block over a row of nvec accesses: about 4 accesses per thread, 128 to 1024.
int row_block_threads(int64_t nvec) {
  int t = 128;
  while (t < 1024 && static_cast<int64_t>(t) * 4 < nvec) t *= 2;
  return t;
}

// The dynamic shared memory Kernel may use: the opt-in maximum less its static shared memory, set
// as the kernel's limit on first use.
template <auto Kernel> size_t dynamic_smem_limit() {
  static const size_t limit = [] {
    cudaFuncAttributes attr{};
    PM_CUDA_CHECK(cudaFuncGetAttributes(&attr, Kernel));
    const size_t l = max_shared_optin() > attr.sharedSizeBytes ? max_shared_optin() - attr.sharedSizeBytes : 0;
    PM_CUDA_CHECK(cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(l)));
    return l;
  }();
  return limit;
}

// Warp-per-row launches for R <= 1024: E = elements per lane, the smallest power of two that fits.
template <typename T, bool LOG> void softmax_warp(const T* x, T* y, int64_t outer, int R) {
  const unsigned blocks = static_cast<unsigned>(ceil_div(outer, kThreads / 32));
  if (R <= 32) softmax_warp_kernel<T, 1, LOG><<<blocks, kThreads>>>(x, y, outer, R);
  else if (R <= 64) softmax_warp_kernel<T, 2, LOG><<<blocks, kThreads>>>(x, y, outer, R);
  else if (R <= 128) softmax_warp_kernel<T, 4, LOG><<<blocks, kThreads>>>(x, y, outer, R);
  else if (R <= 256) softmax_warp_kernel<T, 8, LOG><<<blocks, kThreads>>>(x, y, outer, R);
  else if (R <= 512) softmax_warp_kernel<T, 16, LOG><<<blocks, kThreads>>>(x, y, outer, R);
  else softmax_warp_kernel<T, 32, LOG><<<blocks, kThreads>>>(x, y, outer, R);
}

template <typename T, bool LOG> void softmax_backward_warp(const T* g, const T* y, T* dx, int64_t outer, int R) {
  const unsigned blocks = static_cast<unsigned>(ceil_div(outer, kThreads / 32));
  if (R <= 32) softmax_backward_warp_kernel<T, 1, LOG><<<blocks, kThreads>>>(g, y, dx, outer, R);
  else if (R <= 64) softmax_backward_warp_kernel<T, 2, LOG><<<blocks, kThreads>>>(g, y, dx, outer, R);
  else if (R <= 128) softmax_backward_warp_kernel<T, 4, LOG><<<blocks, kThreads>>>(g, y, dx, outer, R);
  else if (R <= 256) softmax_backward_warp_kernel<T, 8, LOG><<<blocks, kThreads>>>(g, y, dx, outer, R);
  else if (R <= 512) softmax_backward_warp_kernel<T, 16, LOG><<<blocks, kThreads>>>(g, y, dx, outer, R);
  else softmax_backward_warp_kernel<T, 32, LOG><<<blocks, kThreads>>>(g, y, dx, outer, R);
}

template <typename T, bool LOG, int VEC> void softmax_block(const T* x, T* y, int64_t outer, int64_t R) {
  constexpr auto cached = softmax_block_kernel<T, LOG, true, VEC>;
  const size_t bytes = static_cast<size_t>(R) * sizeof(T);
  const int threads = row_block_threads(R / VEC);
  if (bytes <= dynamic_smem_limit<cached>())
    cached<<<static_cast<unsigned>(outer), threads, bytes>>>(x, y, R);
  else
    softmax_block_kernel<T, LOG, false, VEC><<<static_cast<unsigned>(outer), threads>>>(x, y, R);
}

template <typename T, bool LOG, bool CACHE_G, bool CACHE_Y, int VEC>
void softmax_backward_launch(const T* g, const T* y, T* dx, int64_t outer, int64_t R, size_t bytes) {
  constexpr auto kernel = softmax_backward_block_kernel<T, LOG, CACHE_G, CACHE_Y, VEC>;
  if (bytes > 0) dynamic_smem_limit<kernel>();
  kernel<<<static_cast<unsigned>(outer), row_block_threads(R / VEC), bytes>>>(g, y, dx, R);
}

template <typename T, bool LOG, int VEC> void softmax_backward_block(const T* g, const T* y, T* dx, int64_t outer, int64_t R) {
  const size_t row = static_cast<size_t>(R) * sizeof(T);
  const size_t limit = dynamic_smem_limit<softmax_backward_block_kernel<T, LOG, true, true, VEC>>();
  if constexpr (LOG) {
    if (row <= limit)
      softmax_backward_launch<T, LOG, true, false, VEC>(g, y, dx, outer, R, row);
    else
      softmax_backward_launch<T, LOG, false, false, VEC>(g, y, dx, outer, R, 0);
  } else {
    if (2 * row <= limit)
      softmax_backward_launch<T, LOG, true, true, VEC>(g, y, dx, outer, R, 2 * row);
    else if (row <= limit)  // y kept; g read again in pass 2, from L2 for the rows in flight
      softmax_backward_launch<T, LOG, false, true, VEC>(g, y, dx, outer, R, row);
    else
      softmax_backward_launch<T, LOG, false, false, VEC>(g, y, dx, outer, R, 0);
  }
}

}  // namespace

void sum_rows(const Tensor& rows, const Tensor& out, double scale) {
  const int64_t outer = rows.size(0), R = rows.size(1);
  dispatch_all(rows.dtype(), "sum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    reduce_rows("sum", rows.data<T>(), outer, R, SumRed<T, Acc, T>{out.data<T>(), scale}, rows.device());
  });
}

void sum_columns(const Tensor& x, const Tensor& out, int64_t R, int64_t outer, double scale) {
  if (outer == 0) return;
  dispatch_float(x.dtype(), "sum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const unsigned col_blocks = static_cast<unsigned>(ceil_div(outer, kColX));
    const dim3 block(kColX, kColY);
    // split the rows so that about 4 blocks per multiprocessor run, each over >= 64 rows
    const int64_t target = 4 * static_cast<int64_t>(num_sms());
    const int64_t pieces = std::min<int64_t>({std::max<int64_t>(1, ceil_div(target, col_blocks)),
                                              std::max<int64_t>(1, R / 64), 65535});
    const int64_t rows_per = std::max<int64_t>(1, ceil_div(R, pieces));
    const int64_t used = std::max<int64_t>(1, ceil_div(R, rows_per));
    if (used == 1) {
      reduce_columns_kernel<T, double, T><<<dim3(col_blocks, 1), block>>>(px, R, outer, std::max<int64_t>(R, 1),
                                                                          static_cast<double*>(nullptr), po, scale);
      PM_CUDA_LAUNCH_CHECK("sum");
      return;
    }
    const Tensor buf = Tensor::empty({used, outer}, DType::Float64, x.device());
    double* partial = buf.data<double>();
    reduce_columns_kernel<T, double, T><<<dim3(col_blocks, static_cast<unsigned>(used)), block>>>(px, R, outer, rows_per,
                                                                                                 partial, po, scale);
    PM_CUDA_LAUNCH_CHECK("sum");
    reduce_columns_kernel<double, double, T><<<dim3(col_blocks, 1), block>>>(partial, used, outer, used,
                                                                             static_cast<double*>(nullptr), po, scale);
    PM_CUDA_LAUNCH_CHECK("sum");
  });
}

void var_rows(const Tensor& rows, const Tensor& out, int64_t correction) {
  const int64_t outer = rows.size(0), R = rows.size(1);
  dispatch_float(rows.dtype(), "var", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (outer == 0) return;
    const Tensor mean = Tensor::empty({outer}, DType::Float64, rows.device());
    reduce_rows("var", rows.data<T>(), outer, R, SumRed<T, double, double>{mean.data<double>(), 1.0 / static_cast<double>(R)},
                rows.device());
    reduce_rows("var", rows.data<T>(), outer, R,
                SqDevRed<T>{mean.data<double>(), out.data<T>(), static_cast<double>(R - correction)}, rows.device());
  });
}

void max_rows(const Tensor& rows, const Tensor& values, const Tensor& indices) {
  const int64_t outer = rows.size(0), R = rows.size(1);
  dispatch_all(rows.dtype(), "max", [&](auto tag) {
    using T = typename decltype(tag)::type;
    reduce_rows("max", rows.data<T>(), outer, R, ArgMaxRed<T>{values.data<T>(), indices.data<int64_t>()}, rows.device());
  });
}

void softmax_rows(const Tensor& x, const Tensor& y, int64_t outer, int64_t R, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (outer == 0 || R == 0) return;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    if (R <= 1024) {
      if (log)
        softmax_warp<T, true>(px, py, outer, static_cast<int>(R));
      else
        softmax_warp<T, false>(px, py, outer, static_cast<int>(R));
    } else {
      constexpr int V = vec_width<T>();
      const bool vec = R % V == 0 && is_aligned(px, 16) && is_aligned(py, 16);
      if (log)
        vec ? softmax_block<T, true, V>(px, py, outer, R) : softmax_block<T, true, 1>(px, py, outer, R);
      else
        vec ? softmax_block<T, false, V>(px, py, outer, R) : softmax_block<T, false, 1>(px, py, outer, R);
    }
    PM_CUDA_LAUNCH_CHECK(op);
  });
}

void softmax_backward_rows(const Tensor& g, const Tensor& y, const Tensor& dx, int64_t outer, int64_t R, bool log) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  dispatch_float(y.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (outer == 0 || R == 0) return;
    const T* pg = g.data<T>();
    const T* py = y.data<T>();
    T* pd = dx.data<T>();
    if (R <= 1024) {
      if (log)
        softmax_backward_warp<T, true>(pg, py, pd, outer, static_cast<int>(R));
      else
        softmax_backward_warp<T, false>(pg, py, pd, outer, static_cast<int>(R));
    } else {
      constexpr int V = vec_width<T>();
      const bool vec = R % V == 0 && is_aligned(pg, 16) && is_aligned(py, 16) && is_aligned(pd, 16);
      if (log)
        vec ? softmax_backward_block<T, true, V>(pg, py, pd, outer, R) : softmax_backward_block<T, true, 1>(pg, py, pd, outer, R);
      else
        vec ? softmax_backward_block<T, false, V>(pg, py, pd, outer, R) : softmax_backward_block<T, false, 1>(pg, py, pd, outer, R);
    }
    PM_CUDA_LAUNCH_CHECK(op);
  });
}

}  // namespace tensor::cuda
