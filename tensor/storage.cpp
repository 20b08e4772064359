// storage.cpp: the CPU allocator (64-byte aligned) and Storage's life cycle.
#include "tensor/storage.h"

#include "tensor/cuda/runtime.h"

#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

namespace tensor {
namespace {

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    size_t rounded = (nbytes + 63) / 64 * 64;  // aligned_alloc wants a multiple of the alignment
    void* p = std::aligned_alloc(64, rounded);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void deallocate(void* p, size_t) override { std::free(p); }
};

CpuAllocator g_cpu_allocator;

}  // namespace

Allocator* allocator_for(Device d) {
  if (d.is_cpu()) return &g_cpu_allocator;
  return cuda::device_allocator();
}

bool cuda_available() { return cuda::available(); }

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device), allocator_(allocator_for(device)) {
  data_ = allocator_->allocate(nbytes);
}

Storage::Storage(size_t nbytes, Device device, Allocator* allocator)
    : nbytes_(nbytes), device_(device), allocator_(allocator) {
  data_ = allocator_->allocate(nbytes);
}

Storage::~Storage() {
  if (data_) allocator_->deallocate(data_, nbytes_);
}

}  // namespace tensor
