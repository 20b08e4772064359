// stub.cpp: the CUDA backend of a build without CUDA. Everything links; nothing runs on a GPU.
// (Compiled only when PM_HAVE_CUDA is off; see tensor/CMakeLists.txt.)
#include <stdexcept>

#include "tensor/cuda/copy.h"
#include "tensor/cuda/runtime.h"

namespace tensor::cuda {
namespace {
[[noreturn]] void no_cuda(const char* what) {
  throw std::runtime_error(std::string(what) + ": this build has no CUDA backend (built without CUDA)");
}
}  // namespace

Allocator* device_allocator() { no_cuda("storage on cuda"); }
bool built_with_cuda() { return false; }
bool available() { return false; }
int device_count() { return 0; }
MemoryStats memory_stats() { return {}; }
void reset_peak_memory() {}
void empty_cache() {}
void synchronize() { no_cuda("cuda::synchronize"); }
void set_allow_tf32(bool) { no_cuda("cuda::set_allow_tf32"); }
bool allow_tf32() { return false; }
Tensor pinned_empty(const Shape&, DType) { no_cuda("pinned_empty"); }
Tensor pin_memory(const Tensor&) { no_cuda("pin_memory"); }
bool is_pinned(const Tensor&) { return false; }

}  // namespace tensor::cuda
