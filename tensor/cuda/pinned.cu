// pinned.cu: page-locked host memory for fast transfers. A caching allocator over cudaHostAlloc
// (which is slow: it maps the pages for the GPU), keyed by rounded size like the device allocator,
// and the pinned CPU tensors built on it. Blocks are handed out again as soon as they are freed:
// every copy from or to host memory in this backend returns only when the host side is done
// (tensor/cuda/copy.cu), so no transfer can still be reading a freed block.
#include <map>
#include <mutex>
#include <unordered_map>

#include "tensor/cuda/copy.h"
#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/runtime.h"
#include "tensor/storage.h"

namespace tensor::cuda {
namespace {

size_t round_pinned(size_t n) {
  constexpr size_t kSmall = 512, kLargeThreshold = 1 << 20, kLarge = 2 << 20;
  if (n < kLargeThreshold) return (n + kSmall - 1) / kSmall * kSmall;
  return (n + kLarge - 1) / kLarge * kLarge;
}

class PinnedAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    const size_t size = round_pinned(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.lower_bound(size);
    if (it != free_.end() && it->first <= 2 * size) {
      void* p = it->second;
      free_.erase(it);
      return p;
    }
    void* p = nullptr;
    const cudaError_t err = cudaHostAlloc(&p, size, cudaHostAllocDefault);
    if (err != cudaSuccess) {
      cudaGetLastError();
      throw std::runtime_error("pinned allocator: cannot allocate " + std::to_string(size) + " bytes of page-locked host memory (" +
                               cudaGetErrorString(err) + ")");
    }
    sizes_[p] = size;
    return p;
  }

  void deallocate(void* p, size_t) override {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mu_);
    free_.emplace(sizes_.at(p), p);
  }

 private:
  std::mutex mu_;
  std::multimap<size_t, void*> free_;        // cached blocks by size
  std::unordered_map<void*, size_t> sizes_;  // every block we own
};

// Never destroyed: tensors freed during static destruction may still return blocks to it.
PinnedAllocator& pinned_allocator() {
  static PinnedAllocator* a = new PinnedAllocator();
  return *a;
}

}  // namespace

Tensor pinned_empty(const Shape& shape, DType dtype) {
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument("pinned_empty: negative dimension in shape " + shape_str(shape));
  if (!available()) throw std::runtime_error("pinned_empty: no CUDA GPU is available on this machine");
  const size_t nbytes = static_cast<size_t>(numel_of(shape)) * dtype_size(dtype);
  auto storage = std::make_shared<Storage>(nbytes, Device::cpu(), &pinned_allocator());
  return Tensor(std::move(storage), shape, contiguous_strides(shape), 0, dtype);
}

Tensor pin_memory(const Tensor& t) {
  check_defined("pin_memory", t);
  if (!t.device().is_cpu())
    throw std::invalid_argument("pin_memory: expected a CPU tensor, got one on " + t.device().str());
  Tensor out = pinned_empty(t.shape(), t.dtype());
  out.copy_(t);
  return out;
}

bool is_pinned(const Tensor& t) { return t.defined() && t.storage()->allocator() == &pinned_allocator(); }

}  // namespace tensor::cuda
