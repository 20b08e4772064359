// copy.cu: copies that involve a GPU, and fill. Each copy moves the fewest bytes over the bus:
//   - contiguous and same dtype on both sides: one cudaMemcpy (cudaMemcpyAsync within a GPU);
//   - host -> device otherwise: the source made contiguous on the host (in its own dtype and
//     shape), sent as is, then broadcast/strided/converted into the destination by a device kernel;
//   - device -> host otherwise: the source compacted and converted to the destination's dtype on
//     the device, sent, then placed by the CPU copy when the destination is strided or broadcast;
//   - device -> device: a kernel templated on (destination, source) types over any layout.
// Copies to or from host memory return when the host side is done (cudaMemcpy), so host buffers,
// pinned ones included, may be reused or freed right after.
#include "tensor/cuda/copy.h"

#include <cmath>

#include "tensor/cuda/map.cuh"

namespace tensor::cuda {
namespace {

template <typename D, typename S> struct ConvertF {
  __device__ __forceinline__ D operator()(S v) const { return static_cast<D>(v); }
};

// dst = src (broadcast, any strides, converted) with both on the same GPU.
void device_copy(const Tensor& dst, const Tensor& src) {
  dispatch_all(dst.dtype(), "copy_", [&](auto dtag) {
    using D = typename decltype(dtag)::type;
    dispatch_all(src.dtype(), "copy_", [&](auto stag) {
      using S = typename decltype(stag)::type;
      launch_map<1, D, S>("copy_", ConvertF<D, S>{}, dst, src);
    });
  });
}

size_t nbytes_of(const Tensor& t) { return static_cast<size_t>(t.numel()) * t.element_size(); }

template <typename T, int VEC> __global__ void fill_contig_kernel(int64_t n, T v, T* o) {
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  Vec<T, VEC> vv;
#pragma unroll
  for (int k = 0; k < VEC; ++k) vv.v[k] = v;
  const int64_t nvec = n / VEC;
  for (int64_t i = tid; i < nvec; i += step) reinterpret_cast<Vec<T, VEC>*>(o)[i] = vv;
  for (int64_t i = nvec * VEC + tid; i < n; i += step) o[i] = v;
}

template <typename T, typename I, typename O> __global__ void fill_strided_kernel(I n, Indexer<1, I, O> ix, T v, T* o) {
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    O off[1];
    ix.get(i, off);
    o[off[0]] = v;
  }
}

}  // namespace

void copy(const Tensor& dst, const Tensor& src) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  const bool dst_gpu = dst.device().is_cuda(), src_gpu = src.device().is_cuda();
  // One block of bytes in the same order on both sides: no broadcast (a contiguous source with
  // dst's element count), same dtype.
  const bool direct = dst.dtype() == src.dtype() && src.numel() == n && dst.is_contiguous() && src.is_contiguous();

  if (dst_gpu && src_gpu) {
    if (dst.device() != src.device()) {
      if (!direct)
        throw std::invalid_argument("copy_: between GPUs (" + src.device().str() + " -> " + dst.device().str() +
                                    ") only contiguous copies of the same dtype and shape are supported, got " +
                                    dtype_name(src.dtype()) + " " + shape_str(src.shape()) + " -> " +
                                    dtype_name(dst.dtype()) + " " + shape_str(dst.shape()));
      PM_CUDA_CHECK(cudaMemcpyPeerAsync(dst.raw_data(), dst.device().index, src.raw_data(), src.device().index,
                                        nbytes_of(dst), 0));
      return;
    }
    if (direct) {
      if (dst.raw_data() != src.raw_data())
        PM_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), nbytes_of(dst), cudaMemcpyDeviceToDevice, 0));
      return;
    }
    device_copy(dst, src);
    return;
  }

  if (dst_gpu) {  // host -> device
    if (direct) {
      PM_CUDA_CHECK(cudaMemcpy(dst.raw_data(), src.raw_data(), nbytes_of(dst), cudaMemcpyHostToDevice));
      return;
    }
    const Tensor host = src.contiguous();
    const Tensor staged = Tensor::empty(host.shape(), host.dtype(), dst.device());
    PM_CUDA_CHECK(cudaMemcpy(staged.raw_data(), host.raw_data(), nbytes_of(host), cudaMemcpyHostToDevice));
    device_copy(dst, staged);
    return;
  }

  // device -> host
  if (direct) {
    PM_CUDA_CHECK(cudaMemcpy(dst.raw_data(), src.raw_data(), nbytes_of(dst), cudaMemcpyDeviceToHost));
    return;
  }
  Tensor compact = src;
  if (!src.is_contiguous() || src.dtype() != dst.dtype()) {
    compact = Tensor::empty(src.shape(), dst.dtype(), src.device());
    device_copy(compact, src);
  }
  if (dst.is_contiguous() && src.numel() == n) {
    PM_CUDA_CHECK(cudaMemcpy(dst.raw_data(), compact.raw_data(), nbytes_of(dst), cudaMemcpyDeviceToHost));
    return;
  }
  const Tensor host = Tensor::empty(src.shape(), dst.dtype(), Device::cpu());
  PM_CUDA_CHECK(cudaMemcpy(host.raw_data(), compact.raw_data(), nbytes_of(host), cudaMemcpyDeviceToHost));
  dst.copy_(host);  // the CPU places it (strided or broadcast destination)
}

void fill(const Tensor& dst, double value) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (value == 0.0 && !std::signbit(value) && dst.is_contiguous()) {  // all-zero bits in every dtype
    PM_CUDA_CHECK(cudaMemsetAsync(dst.raw_data(), 0, nbytes_of(dst), 0));
    return;
  }
  dispatch_all(dst.dtype(), "fill_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = static_cast<T>(value);
    T* p = static_cast<T*>(dst.raw_data());
    constexpr int V = vec_width<T>();
    if (dst.is_contiguous() && is_aligned(p, sizeof(T) * V)) {
      fill_contig_kernel<T, V><<<blocks_for(n / V > 0 ? n / V : 1), kThreads>>>(n, v, p);
    } else {
      const OffsetCalc<1> calc = make_offset_calc<1>(dst.shape(), {&dst});
      if (fits_32bit(calc, n))
        fill_strided_kernel<T><<<blocks_for(n), kThreads>>>(static_cast<uint32_t>(n), make_indexer<1, uint32_t, int32_t>(calc), v, p);
      else
        fill_strided_kernel<T><<<blocks_for(n), kThreads>>>(n, make_indexer<1, int64_t, int64_t>(calc), v, p);
    }
    PM_CUDA_LAUNCH_CHECK("fill_");
  });
}

}  // namespace tensor::cuda
