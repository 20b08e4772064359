// storage.h: Storage, the reference-counted block of bytes under one or more tensors, and the
// per-device allocators that make it. CPU blocks are 64-byte aligned; CUDA blocks come from the
// CUDA backend's allocator (a build without CUDA throws "built without CUDA").
#pragma once
#include <cstddef>
#include <memory>

#include "tensor/device.h"

namespace tensor {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* p, size_t nbytes) = 0;
};

// The allocator for a device: 64-byte aligned host memory, or the CUDA backend's caching
// allocator (which throws in a build without CUDA or on a machine without a GPU).
Allocator* allocator_for(Device d);
// True when this build has the CUDA backend and a GPU answers.
bool cuda_available();

// Bytes on one device. Tensors share a Storage through std::shared_ptr; the bytes are freed (or
// returned to the caching allocator) when the last tensor lets go.
class Storage {
 public:
  Storage(size_t nbytes, Device device);
  // Bytes from a given allocator for `device` (the CUDA backend's pinned host memory, say).
  Storage(size_t nbytes, Device device, Allocator* allocator);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  Allocator* allocator() const { return allocator_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;
};

}  // namespace tensor
