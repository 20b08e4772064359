// allocator.cu: the caching CUDA allocator. Freed blocks are kept in a cache keyed by their
// rounded size and handed out again, so a training loop in steady state never calls cudaMalloc or
// cudaFree. All work runs on one stream, in order, so a block freed by one op can be reused by the
// next op at once. On an out-of-memory error the cache is released and the allocation retried.
#include <map>
#include <mutex>
#include <unordered_map>

#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/runtime.h"
#include "tensor/storage.h"

namespace tensor::cuda {
namespace {

constexpr size_t kSmallRound = 512;            // small blocks: multiples of 512 bytes
constexpr size_t kLargeThreshold = 1 << 20;    // from 1 MiB up ...
constexpr size_t kLargeRound = 2 << 20;        // ... multiples of 2 MiB

size_t round_size(size_t n) {
  if (n < kLargeThreshold) return (n + kSmallRound - 1) / kSmallRound * kSmallRound;
  return (n + kLargeRound - 1) / kLargeRound * kLargeRound;
}

class CachingAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    const size_t size = round_size(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.num_allocs;
    void* p = nullptr;
    // best fit among cached blocks of at least `size` and at most twice it
    auto it = free_.lower_bound(size);
    if (it != free_.end() && it->first <= 2 * size) {
      p = it->second;
      free_.erase(it);
    } else {
      p = device_malloc(size);
    }
    const size_t got = sizes_.at(p);
    stats_.bytes_in_use += got;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
    return p;
  }

  void deallocate(void* p, size_t) override {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mu_);
    const size_t size = sizes_.at(p);
    stats_.bytes_in_use -= size;
    free_.emplace(size, p);
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    release_cached();
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak_bytes_in_use = stats_.bytes_in_use;
  }

 private:
  void* device_malloc(size_t size) {
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, size);
    if (err == cudaErrorMemoryAllocation) {  // free what the cache holds and try once more
      cudaGetLastError();
      release_cached();
      err = cudaMalloc(&p, size);
    }
    if (err != cudaSuccess) {
      cudaGetLastError();
      throw std::runtime_error("cuda allocator: cannot allocate " + std::to_string(size) + " bytes (" +
                               cudaGetErrorString(err) + "); " + std::to_string(stats_.bytes_in_use) +
                               " bytes in use, " + std::to_string(stats_.bytes_reserved) + " reserved");
    }
    sizes_[p] = size;
    stats_.bytes_reserved += size;
    ++stats_.num_device_mallocs;
    return p;
  }

  void release_cached() {
    if (!free_.empty()) cudaDeviceSynchronize();  // no kernel may still use a block we free
    for (auto& [size, p] : free_) {
      cudaFree(p);
      sizes_.erase(p);
      stats_.bytes_reserved -= size;
    }
    free_.clear();
  }

  std::mutex mu_;
  std::multimap<size_t, void*> free_;        // cached blocks by size
  std::unordered_map<void*, size_t> sizes_;  // every block we own, cached or in use
  MemoryStats stats_;
};

// Never destroyed: tensors freed during static destruction may still return blocks to it.
CachingAllocator& caching_allocator() {
  static CachingAllocator* a = new CachingAllocator();
  return *a;
}

}  // namespace

Allocator* device_allocator() {
  if (!available()) throw std::runtime_error("cuda allocator: no CUDA GPU is available on this machine");
  return &caching_allocator();
}
MemoryStats memory_stats() { return caching_allocator().stats(); }
void reset_peak_memory() { caching_allocator().reset_peak(); }
void empty_cache() { caching_allocator().empty_cache(); }

}  // namespace tensor::cuda
