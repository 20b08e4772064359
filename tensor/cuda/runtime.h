// runtime.h: the CUDA backend's process-wide state: whether a GPU is usable, the stream all ops
// run on, the cuBLAS handle, and the caching allocator's counters. In a build without CUDA these
// functions exist too (tensor/cuda/stub.cpp): available() is false and the rest throw
// "built without CUDA".
#pragma once
#include <cstddef>
#include <cstdint>

namespace tensor {
class Allocator;
}

namespace tensor::cuda {

bool built_with_cuda();
// True when the build has CUDA and at least one GPU answers. Never throws.
bool available();
int device_count();

// The caching allocator behind every CUDA Storage; throws when no GPU is usable.
Allocator* device_allocator();

struct MemoryStats {
  size_t bytes_in_use = 0;     // handed out to tensors now
  size_t peak_bytes_in_use = 0;
  size_t bytes_reserved = 0;   // held from cudaMalloc, in use or cached
  uint64_t num_allocs = 0;      // allocate() calls
  uint64_t num_device_mallocs = 0;  // of which reached cudaMalloc
};
MemoryStats memory_stats();
void reset_peak_memory();
// Returns cached, unused blocks to the driver.
void empty_cache();
// Waits for all queued work on the backend's stream.
void synchronize();
// TF32 tensor-core matrix products for float32 (off by default: results then match fp32 closely).
void set_allow_tf32(bool on);
bool allow_tf32();

}  // namespace tensor::cuda
