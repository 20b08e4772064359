// index.cu: integer indexing on the GPU (see index.h for the bounds checks and the deterministic
// accumulation scheme). Strided operands are read in place: each op builds views whose strides
// say where an element lives (stride 0 along the indexed dim, where the index supplies the offset)
// and iterates them with OffsetCalc.
#include <climits>
#include <string>
#include <vector>

#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/index.h"
#include "tensor/cuda/kernel_utils.cuh"
#include "tensor/cuda/launch.cuh"

namespace tensor::cuda {
namespace {

#define PM_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); i += static_cast<int64_t>(gridDim.x) * blockDim.x)

constexpr unsigned long long kNone = ~0ull;

// ---- bounds check -----------------------------------------------------------------------------

// first_bad = the smallest row-major position whose index lies outside [0, limit) (skipped values
// aside); kept += the number of values not skipped. Integer atomics: the result is exact.
__global__ void check_kernel(const int64_t* __restrict__ idx, OffsetCalc<1> calc, bool contiguous, int64_t n,
                             int64_t limit, bool has_skip, int64_t skip, unsigned long long* first_bad,
                             unsigned long long* kept) {
  unsigned long long mine = kNone, count = 0;
  PM_GRID_STRIDE(i, n) {
    int64_t off[1] = {i};
    if (!contiguous) calc.get(i, off);
    const int64_t v = idx[off[0]];
    if (has_skip && v == skip) continue;
    ++count;
    if ((v < 0 || v >= limit) && static_cast<unsigned long long>(i) < mine) mine = static_cast<unsigned long long>(i);
  }
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) {
    const unsigned long long other = __shfl_xor_sync(kFullMask, mine, m);
    mine = other < mine ? other : mine;
    count += __shfl_xor_sync(kFullMask, count, m);
  }
  if (threadIdx.x % 32 == 0) {
    if (mine != kNone) atomicMin(first_bad, mine);
    if (count) atomicAdd(kept, count);
  }
}

// ---- gather: out[i] = x[x_off(i) + idx[idx_off(i)] * xsd] -----------------------------------------

template <typename T>
__global__ void gather_kernel(T* __restrict__ out, const T* __restrict__ x, const int64_t* __restrict__ idx,
                              OffsetCalc<3> calc, int64_t n, int64_t xsd) {
  PM_GRID_STRIDE(i, n) {
    int64_t off[3];
    calc.get(i, off);
    out[off[0]] = x[off[1] + idx[off[2]] * xsd];
  }
}

// ---- scatter_add: one thread per output line, the index walked along `dim` in order ---------------

template <typename T>
__global__ void scatter_add_kernel(T* __restrict__ out, const int64_t* __restrict__ idx, const T* __restrict__ src,
                                   OffsetCalc<3> calc, int64_t lines, int64_t len, int64_t osd, int64_t isd,
                                   int64_t ssd) {
  PM_GRID_STRIDE(i, lines) {
    int64_t off[3];
    calc.get(i, off);
    for (int64_t j = 0; j < len; ++j) out[off[0] + idx[off[1] + j * isd] * osd] += src[off[2] + j * ssd];
  }
}

// ---- grouping positions by target row (index_add, embedding_backward) -----------------------------

// counts[v] = how many positions j hold index v (skipped value aside).
__global__ void count_kernel(const int64_t* __restrict__ ids, int64_t istride, int64_t n, bool has_skip, int64_t skip,
                             int* __restrict__ counts) {
  PM_GRID_STRIDE(j, n) {
    const int64_t v = ids[j * istride];
    if (!(has_skip && v == skip)) atomicAdd(&counts[v], 1);
  }
}

// offsets[0..n] = exclusive prefix sums of counts[0..n-1] (offsets[n] = the total); one block: each
// thread scans a contiguous chunk, the chunk totals are scanned in shared memory.
__global__ void exclusive_scan_kernel(const int* __restrict__ counts, int64_t n, int* __restrict__ offsets) {
  __shared__ int sums[1024];
  const int tid = threadIdx.x, nt = blockDim.x;
  const int64_t chunk = (n + nt - 1) / nt, b = tid * chunk, e = b + chunk < n ? b + chunk : n;
  int s = 0;
  for (int64_t i = b; i < e; ++i) s += counts[i];
  sums[tid] = s;
  __syncthreads();
  for (int d = 1; d < nt; d <<= 1) {  // inclusive scan of the chunk totals (Hillis-Steele)
    const int add = tid >= d ? sums[tid - d] : 0;
    __syncthreads();
    sums[tid] += add;
    __syncthreads();
  }
  int run = tid > 0 ? sums[tid - 1] : 0;
  for (int64_t i = b; i < e; ++i) {
    offsets[i] = run;
    run += counts[i];
  }
  if (tid == nt - 1) offsets[n] = sums[tid];
}

// pos[offsets[v] + rank] = j, where rank = how many earlier positions hold the same index v: each
// row's positions end up in increasing order. Earlier indices are compared tile by tile from shared
// memory (every block reads the tiles up to its own).
__global__ void rank_fill_kernel(const int64_t* __restrict__ ids, int64_t istride, int64_t n, bool has_skip,
                                 int64_t skip, const int* __restrict__ offsets, int* __restrict__ pos) {
  extern __shared__ int64_t tile[];
  const int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t v = j < n ? ids[j * istride] : 0;
  const bool active = j < n && !(has_skip && v == skip);
  const int64_t block_first = blockIdx.x * static_cast<int64_t>(blockDim.x);
  int rank = 0;
  for (int64_t t0 = 0; t0 <= block_first; t0 += blockDim.x) {
    __syncthreads();  // the previous tile is no longer read
    if (t0 + threadIdx.x < n) tile[threadIdx.x] = ids[(t0 + threadIdx.x) * istride];
    __syncthreads();
    if (active) {
      const int64_t lim = min(static_cast<int64_t>(blockDim.x), j - t0);  // positions t0 + k < j
      for (int64_t k = 0; k < lim; ++k) rank += tile[k] == v;
    }
  }
  if (active) pos[offsets[v] + rank] = static_cast<int>(j);
}

// out [outer, V, inner] (contiguous): each element adds the sources of its row v in position order,
// src at src_off(e) + pos * ssd. zero_base: start from 0 and write every element (out uninitialised).
template <typename T>
__global__ void segment_add_kernel(T* __restrict__ out, const T* __restrict__ src, OffsetCalc<1> calc, int64_t total,
                                   int64_t inner, int64_t V, int64_t ssd, const int* __restrict__ offsets,
                                   const int* __restrict__ pos, bool zero_base) {
  PM_GRID_STRIDE(e, total) {
    const int64_t v = (e / inner) % V;
    const int s0 = offsets[v], s1 = offsets[v + 1];
    if (s0 == s1 && !zero_base) continue;
    int64_t off[1];
    calc.get(e, off);
    T acc = zero_base ? T(0) : out[e];
    for (int s = s0; s < s1; ++s) acc += src[off[0] + pos[s] * ssd];
    out[e] = acc;
  }
}

#undef PM_GRID_STRIDE

// ---- host helpers -----------------------------------------------------------------------------------

// A view of t's bytes with another shape and strides (the strides say where each element lives).
Tensor restride(const Tensor& t, const Shape& shape, const Strides& strides) {
  return Tensor(t.storage(), shape, strides, t.offset(), t.dtype());
}

Strides with_stride(Strides s, int64_t dim, int64_t v) {
  s[dim] = v;
  return s;
}

// out (contiguous) = gather through x_view (stride 0 where the index applies) and idx_view.
void run_gather(const char* op, const Tensor& out, const Tensor& x_view, const Tensor& idx_view, int64_t xsd) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const OffsetCalc<3> calc = make_offset_calc<3>(out.shape(), {&out, &x_view, &idx_view});
  dispatch_all(out.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    gather_kernel<T><<<blocks_for(n), kThreads>>>(out.data<T>(), x_view.data<T>(), idx_view.data<int64_t>(), calc, n,
                                                  xsd);
    PM_CUDA_LAUNCH_CHECK(op);
  });
}

// out [outer, V, inner] (contiguous) += src's slices along `dim` grouped by ids (1-d: pointer +
// stride, n entries in [0, V), entries equal to `skip` left out when has_skip). zero_base: out is
// uninitialised and receives the sums alone.
void run_segment_add(const char* op, const Tensor& out, int64_t dim, const Tensor& src, const int64_t* ids,
                     int64_t istride, int64_t n, bool has_skip, int64_t skip, bool zero_base) {
  const int64_t V = out.size(dim), total = out.numel();
  if (total == 0) return;
  if (n > INT_MAX - 1)
    throw std::invalid_argument(std::string(op) + " (cuda): " + std::to_string(n) + " indices exceed 32-bit positions");
  int64_t inner = 1;
  for (int64_t d = dim + 1; d < out.dim(); ++d) inner *= out.size(d);
  Tensor counts = Tensor::empty({V}, DType::Int32, out.device());
  Tensor offsets = Tensor::empty({V + 1}, DType::Int32, out.device());
  Tensor pos = Tensor::empty({std::max<int64_t>(n, 1)}, DType::Int32, out.device());
  PM_CUDA_CHECK(cudaMemsetAsync(counts.data<int32_t>(), 0, V * sizeof(int32_t)));
  if (n > 0) {
    count_kernel<<<blocks_for(n), kThreads>>>(ids, istride, n, has_skip, skip, counts.data<int32_t>());
    PM_CUDA_LAUNCH_CHECK(op);
  }
  exclusive_scan_kernel<<<1, 1024>>>(counts.data<int32_t>(), V, offsets.data<int32_t>());
  PM_CUDA_LAUNCH_CHECK(op);
  if (n > 0) {
    const int threads = 256;
    const unsigned blocks = static_cast<unsigned>((n + threads - 1) / threads);
    rank_fill_kernel<<<blocks, threads, threads * sizeof(int64_t)>>>(ids, istride, n, has_skip, skip,
                                                                     offsets.data<int32_t>(), pos.data<int32_t>());
    PM_CUDA_LAUNCH_CHECK(op);
  }
  // src seen over out's shape, stride 0 along dim (the position comes from pos)
  const Tensor src_view = restride(src, out.shape(), with_stride(src.strides(), dim, 0));
  const OffsetCalc<1> calc = make_offset_calc<1>(out.shape(), {&src_view});
  const int64_t ssd = src.stride(dim);
  dispatch_all(out.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    segment_add_kernel<T><<<blocks_for(total), kThreads>>>(out.data<T>(), src_view.data<T>(), calc, total, inner, V,
                                                           ssd, offsets.data<int32_t>(), pos.data<int32_t>(),
                                                           zero_base);
    PM_CUDA_LAUNCH_CHECK(op);
  });
}

// A 1-d index tensor as pointer + stride.
struct Ids {
  const int64_t* p;
  int64_t stride;
};
Ids ids_of(const Tensor& idx1d) { return {idx1d.data<int64_t>(), idx1d.numel() > 1 ? idx1d.stride(0) : 1}; }

}  // namespace

PendingIndexCheck start_index_check(const Tensor& idx, int64_t limit, bool has_skip, int64_t skip) {
  const int64_t n = idx.numel();
  PendingIndexCheck p;
  p.idx = idx;
  p.flags = Tensor::empty({2}, DType::Int64, idx.device());  // [first bad position, kept count]
  auto* fp = reinterpret_cast<unsigned long long*>(p.flags.data<int64_t>());
  PM_CUDA_CHECK(cudaMemsetAsync(fp, 0xff, sizeof(unsigned long long)));
  PM_CUDA_CHECK(cudaMemsetAsync(fp + 1, 0, sizeof(unsigned long long)));
  if (n > 0) {
    const OffsetCalc<1> calc = make_offset_calc<1>(idx.shape(), {&idx});
    check_kernel<<<blocks_for(n), kThreads>>>(idx.data<int64_t>(), calc, idx.is_contiguous(), n, limit, has_skip, skip,
                                              fp, fp + 1);
    PM_CUDA_LAUNCH_CHECK("index check");
  }
  p.n_kept = Tensor(p.flags.storage(), {}, {}, p.flags.offset() + 1, DType::Int64);
  return p;
}

IndexCheck finish_index_check(const PendingIndexCheck& p) {
  unsigned long long first = kNone;
  PM_CUDA_CHECK(cudaMemcpy(&first, p.flags.data<int64_t>(), sizeof first, cudaMemcpyDeviceToHost));
  IndexCheck r;
  if (first == kNone) return r;
  r.first_bad = static_cast<int64_t>(first);
  const Tensor& idx = p.idx;
  int64_t rem = r.first_bad, off = 0;  // its element offset in idx
  for (int64_t d = idx.dim() - 1; d >= 0; --d) {
    off += (rem % idx.size(d)) * idx.stride(d);
    rem /= idx.size(d);
  }
  PM_CUDA_CHECK(cudaMemcpy(&r.value, idx.data<int64_t>() + off, sizeof(int64_t), cudaMemcpyDeviceToHost));
  return r;
}

IndexCheck check_indices(const Tensor& idx, int64_t limit, bool has_skip, int64_t skip, Tensor* n_kept) {
  const PendingIndexCheck p = start_index_check(idx, limit, has_skip, skip);
  if (n_kept) *n_kept = p.n_kept;
  return finish_index_check(p);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& idx) {
  Shape out_shape = x.shape();
  out_shape[dim] = idx.numel();
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  Strides is(out_shape.size(), 0);
  is[dim] = idx.numel() > 1 ? idx.stride(0) : 0;
  run_gather("index_select", out, restride(x, out_shape, with_stride(x.strides(), dim, 0)),
             restride(idx, out_shape, is), x.stride(dim));
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& idx) {
  Tensor out = Tensor::empty(idx.shape(), x.dtype(), x.device());
  run_gather("gather", out, restride(x, idx.shape(), with_stride(x.strides(), dim, 0)), idx, x.stride(dim));
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  Shape out_shape = ids.shape();
  out_shape.push_back(weight.size(1));
  Tensor out = Tensor::empty(out_shape, weight.dtype(), weight.device());
  Strides ws(out_shape.size(), 0), is = ids.strides();
  ws.back() = weight.stride(1);
  is.push_back(0);
  run_gather("embedding", out, restride(weight, out_shape, ws), restride(ids, out_shape, is), weight.stride(0));
  return out;
}

Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& idx, const Tensor& src) {
  Tensor out = base.clone();
  const int64_t len = idx.size(dim);
  Shape iter = idx.shape();
  iter[dim] = 1;
  const int64_t lines = numel_of(iter);
  if (lines == 0 || len == 0) return out;
  const Tensor ov = restride(out, iter, out.strides()), iv = restride(idx, iter, idx.strides()),
               sv = restride(src, iter, src.strides());
  const OffsetCalc<3> calc = make_offset_calc<3>(iter, {&ov, &iv, &sv});
  dispatch_all(base.dtype(), "scatter_add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    scatter_add_kernel<T><<<blocks_for(lines), kThreads>>>(out.data<T>(), idx.data<int64_t>(), src.data<T>(), calc,
                                                           lines, len, out.stride(dim), idx.stride(dim),
                                                           src.stride(dim));
    PM_CUDA_LAUNCH_CHECK("scatter_add");
  });
  return out;
}

Tensor index_add(const Tensor& base, int64_t dim, const Tensor& idx, const Tensor& src) {
  Tensor out = base.clone();
  const Ids ids = ids_of(idx);
  run_segment_add("index_add", out, dim, src, ids.p, ids.stride, idx.numel(), false, 0, false);
  return out;
}

Tensor embedding_backward(const Tensor& grad, const Tensor& ids, int64_t num_embeddings, int64_t padding_idx) {
  const int64_t D = grad.size(-1), n = ids.numel();
  Tensor out = Tensor::empty({num_embeddings, D}, grad.dtype(), grad.device());
  if (out.numel() == 0) return out;
  const Tensor flat = ids.is_contiguous() ? ids : ids.contiguous();
  const Tensor g2 = grad.reshape({n, D});  // a view unless grad's layout needs a copy
  dispatch_float(grad.dtype(), "embedding_backward", [](auto) {});  // float32/float64 only (throws), as on the CPU
  run_segment_add("embedding_backward", out, 0, g2, flat.data<int64_t>(), 1, n, padding_idx >= 0, padding_idx, true);
  return out;
}

}  // namespace tensor::cuda
