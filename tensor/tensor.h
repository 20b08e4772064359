// tensor.h: Tensor, a typed, strided view (shape, strides, offset, all in elements) over a shared
// Storage. Copying a Tensor copies the view, never the bytes. View methods (view, permute, narrow,
// expand, ...) return new views of the same storage; `contiguous()` and `clone()` copy.
// The math lives in tensor/ops/ as free functions; this class knows no gradients.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace tensor {

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (defined() is false)
  Tensor(std::shared_ptr<Storage> storage, Shape shape, Strides strides, int64_t offset, DType dtype);

  // A fresh, uninitialised, contiguous tensor.
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  Device device() const;
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  int64_t offset() const { return offset_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  // Dim d of the shape / strides, counted from the end when negative (inline: kernels call these in
  // their set-up loops); an out-of-range d throws, naming the call.
  int64_t size(int64_t d) const { return in_range(d) ? shape_[d < 0 ? d + dim() : d] : checked_size(d); }
  int64_t stride(int64_t d) const { return in_range(d) ? strides_[d < 0 ? d + dim() : d] : checked_stride(d); }
  int64_t numel() const { return numel_of(shape_); }
  size_t element_size() const { return dtype_size(dtype_); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  // Pointer to the first element (storage base + offset). T must match dtype().
  template <typename T> T* data() const {
    if (dtype_of<T>::value != dtype_)
      throw std::invalid_argument(std::string("data<T>: tensor is ") + dtype_name(dtype_) + ", asked for " +
                                  dtype_name(dtype_of<T>::value));
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const;
  // The single element of a one-element CPU tensor, converted to T.
  template <typename T> T item() const;
  // Element at a multi-index (CPU only; for tests and debugging), converted to double.
  double at(const std::vector<int64_t>& index) const;

  // ---- views: no copy -------------------------------------------------------------------------
  Tensor view(const Shape& shape) const;     // needs a layout compatible with `shape`; one dim may be -1
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a contiguous copy
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;  // python-like bounds
  Tensor select(int64_t dim, int64_t index) const;                               // drops `dim`
  Tensor expand(const Shape& shape) const;  // size-1 dims (and new leading dims) get stride 0
  Tensor squeeze(int64_t dim) const;
  Tensor squeeze() const;  // all size-1 dims
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;  // view when possible

  // ---- copies ---------------------------------------------------------------------------------
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;       // always a fresh contiguous copy
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  // Copies `src` (broadcast to this shape, any dtype) into this tensor's elements in place.
  void copy_(const Tensor& src) const;
  void fill_(double value) const;

  std::string str() const;  // "Tensor(float32, [2, 3], cpu)" followed by values when small
  std::vector<double> to_vector() const;  // all elements in row-major order, as double (CPU)

 private:
  bool in_range(int64_t d) const { return d >= 0 ? d < dim() : d >= -dim(); }
  int64_t checked_size(int64_t d) const;  // the error paths of size() and stride()
  int64_t checked_stride(int64_t d) const;

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Strides strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::Float32;
};

// Throws "op: expected the same device, got cpu and cuda:0" etc.
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void check_defined(const char* op, const Tensor& t, const char* what = "input");
// Throws "op: CUDA tensors are not supported by this op yet" until the CUDA backend provides it.
void check_cpu(const char* op, const Tensor& t);

}  // namespace tensor
