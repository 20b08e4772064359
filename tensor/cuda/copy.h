// copy.h: copies that involve a GPU (host -> device, device -> host, device -> device, with
// broadcasting, any strides and conversion between the five dtypes), fill, and pinned
// (page-locked) host tensors for fast transfers. Tensor::copy_, fill_ and to(Device) call these.
// copy and fill are defined only when the CUDA backend is compiled: call them inside PM_ON_CUDA
// (tensor/cuda/dispatch.h). The pinned-memory functions exist in every build; without CUDA they
// throw "built without CUDA".
#pragma once
#include "tensor/tensor.h"

namespace tensor::cuda {

// dst's elements = src broadcast to dst's shape, converted to dst's dtype. At least one of the two
// lives on a GPU; the other may be on the CPU (pageable or pinned). Returns once a host
// destination holds the data; a device destination is written in stream order.
void copy(const Tensor& dst, const Tensor& src);
// Every element of dst (any layout on a GPU) set to value, converted to dst's dtype.
void fill(const Tensor& dst, double value);

// A CPU tensor in page-locked host memory (from a caching pinned allocator): transfers between it
// and a GPU run at full bus speed.
Tensor pinned_empty(const Shape& shape, DType dtype = DType::Float32);
// A pinned copy of a CPU tensor (contiguous).
Tensor pin_memory(const Tensor& t);
// True when t's storage came from the pinned allocator.
bool is_pinned(const Tensor& t);

}  // namespace tensor::cuda
