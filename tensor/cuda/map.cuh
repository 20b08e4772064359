// map.cuh: elementwise maps on the GPU, out = f(a[, b[, c]]), the CUDA counterpart of
// tensor/cpu/map.h. Inputs broadcast to out's shape and each operand has its own type (a uint8 mask
// beside float data). Three paths, chosen on the host:
//   - contiguous: every operand contiguous with out's element count (or b a single element), base
//     pointers 16-byte aligned: grid-stride loop over 16-byte vectors (float4, double2), then a
//     scalar tail;
//   - strided, 32-bit: any strides (broadcast 0, negative, gaps) through an Indexer whose index
//     math is 32-bit when the element count and every operand's offsets fit;
//   - strided, 64-bit: the same with 64-bit math, for the rest.
// f is a functor object with a __device__ call operator (no device lambdas needed).
#pragma once
#include <array>

#include "tensor/cuda/kernel_utils.cuh"

namespace tensor::cuda {
namespace detail {

template <int NIN, typename F, typename A, typename B, typename C>
__device__ __forceinline__ auto apply(const F& f, A a, B b, C c) {
  if constexpr (NIN == 1) {
    return f(a);
  } else if constexpr (NIN == 2) {
    return f(a, b);
  } else {
    return f(a, b, c);
  }
}

// NIN inputs, all contiguous over n elements and 16-byte aligned (b a single element when
// B_SCALAR). Unused inputs have type char and a null pointer.
template <int NIN, int VEC, bool B_SCALAR, typename F, typename TO, typename TA, typename TB, typename TC>
__global__ void map_contig_kernel(int64_t n, F f, TO* o, const TA* a, const TB* b, const TC* c) {
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t nvec = n / VEC;
  TB bs{};
  if constexpr (B_SCALAR) bs = *b;
  for (int64_t i = tid; i < nvec; i += step) {
    const Vec<TA, VEC> va = reinterpret_cast<const Vec<TA, VEC>*>(a)[i];
    Vec<TB, VEC> vb{};
    Vec<TC, VEC> vc{};
    if constexpr (NIN >= 2 && !B_SCALAR) vb = reinterpret_cast<const Vec<TB, VEC>*>(b)[i];
    if constexpr (NIN >= 3) vc = reinterpret_cast<const Vec<TC, VEC>*>(c)[i];
    Vec<TO, VEC> vo;
#pragma unroll
    for (int k = 0; k < VEC; ++k) vo.v[k] = static_cast<TO>(apply<NIN>(f, va.v[k], B_SCALAR ? bs : vb.v[k], vc.v[k]));
    reinterpret_cast<Vec<TO, VEC>*>(o)[i] = vo;
  }
  for (int64_t i = nvec * VEC + tid; i < n; i += step) {
    TB vb = bs;
    TC vc{};
    if constexpr (NIN >= 2 && !B_SCALAR) vb = b[i];
    if constexpr (NIN >= 3) vc = c[i];
    o[i] = static_cast<TO>(apply<NIN>(f, a[i], vb, vc));
  }
}

// Any layout: the indexer gives out's offset and each input's.
template <int NIN, typename I, typename O, typename F, typename TO, typename TA, typename TB, typename TC>
__global__ void map_strided_kernel(I n, Indexer<NIN + 1, I, O> ix, F f, TO* o, const TA* a, const TB* b, const TC* c) {
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    O off[NIN + 1];
    ix.get(i, off);
    TB vb{};
    TC vc{};
    if constexpr (NIN >= 2) vb = b[off[2]];
    if constexpr (NIN >= 3) vc = c[off[3]];
    o[off[0]] = static_cast<TO>(apply<NIN>(f, a[off[1]], vb, vc));
  }
}

}  // namespace detail

// out[i] = f(a[i], b[i], c[i]) with NIN of the inputs used (b, c may be null beyond NIN). Inputs
// broadcast to out's shape; types must match the tensors' dtypes (the caller dispatched).
template <int NIN, typename TO, typename TA, typename TB = char, typename TC = char, typename F>
void launch_map(const char* op, const F& f, const Tensor& out, const Tensor& a, const Tensor* b = nullptr,
                const Tensor* c = nullptr) {
  static_assert(NIN >= 1 && NIN <= 3, "launch_map: 1 to 3 inputs");
  const int64_t n = out.numel();
  if (n == 0) return;
  TO* po = static_cast<TO*>(out.raw_data());
  const TA* pa = static_cast<const TA*>(a.raw_data());
  const TB* pb = NIN >= 2 ? static_cast<const TB*>(b->raw_data()) : nullptr;
  const TC* pc = NIN >= 3 ? static_cast<const TC*>(c->raw_data()) : nullptr;

  // contiguous fast path: the same element order in every operand (a contiguous input with out's
  // element count cannot be broadcast along any dim)
  constexpr int V = vec_width<TO, TA, TB, TC>();
  auto full = [&](const Tensor& t, const void* p, size_t elem) {
    return t.is_contiguous() && t.numel() == n && is_aligned(p, V * elem);
  };
  bool contig = out.is_contiguous() && is_aligned(po, V * sizeof(TO)) && full(a, pa, sizeof(TA));
  if (NIN >= 3) contig = contig && full(*c, pc, sizeof(TC));
  const bool b_full = NIN >= 2 && full(*b, pb, sizeof(TB));
  const bool b_scalar = NIN >= 2 && !b_full && b->numel() == 1;
  if (contig && (NIN < 2 || b_full || b_scalar)) {
    const unsigned blocks = blocks_for(n / V > 0 ? n / V : 1);
    if (b_scalar)
      detail::map_contig_kernel<NIN, V, true><<<blocks, kThreads>>>(n, f, po, pa, pb, pc);
    else
      detail::map_contig_kernel<NIN, V, false><<<blocks, kThreads>>>(n, f, po, pa, pb, pc);
    PM_CUDA_LAUNCH_CHECK(op);
    return;
  }

  std::array<const Tensor*, NIN + 1> ops{};
  ops[0] = &out;
  ops[1] = &a;
  if constexpr (NIN >= 2) ops[2] = b;
  if constexpr (NIN >= 3) ops[3] = c;
  const OffsetCalc<NIN + 1> calc = make_offset_calc<NIN + 1>(out.shape(), ops);
  if (fits_32bit(calc, n)) {
    const auto ix = make_indexer<NIN + 1, uint32_t, int32_t>(calc);
    detail::map_strided_kernel<NIN><<<blocks_for(n), kThreads>>>(static_cast<uint32_t>(n), ix, f, po, pa, pb, pc);
  } else {
    const auto ix = make_indexer<NIN + 1, int64_t, int64_t>(calc);
    detail::map_strided_kernel<NIN><<<blocks_for(n), kThreads>>>(n, ix, f, po, pa, pb, pc);
  }
  PM_CUDA_LAUNCH_CHECK(op);
}

}  // namespace tensor::cuda
