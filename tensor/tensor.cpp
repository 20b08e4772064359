// tensor.cpp: Tensor's metadata, views, copies and printing.
#include "tensor/tensor.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "tensor/cpu/loops.h"
#include "tensor/cuda/copy.h"
#include "tensor/cuda/dispatch.h"

namespace tensor {

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Strides strides, int64_t offset, DType dtype)
    : storage_(std::move(storage)), shape_(std::move(shape)), strides_(std::move(strides)), offset_(offset),
      dtype_(dtype) {}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument("empty: negative dimension in shape " + shape_str(shape));
  size_t nbytes = static_cast<size_t>(numel_of(shape)) * dtype_size(dtype);
  return Tensor(std::make_shared<Storage>(nbytes, device), shape, contiguous_strides(shape), 0, dtype);
}

Device Tensor::device() const { return storage_ ? storage_->device() : Device::cpu(); }

namespace {
// wrap_dim lets a 0-d tensor accept dim 0 (for reductions); ops that index shape[dim] cannot.
void check_not_scalar(const char* op, const Tensor& t, int64_t d) {
  if (t.dim() == 0)
    throw std::out_of_range(std::string(op) + ": dim " + std::to_string(d) + " out of range for a 0-d tensor");
}
}  // namespace

int64_t Tensor::checked_size(int64_t d) const {
  check_not_scalar("size", *this, d);
  return shape_[wrap_dim(d, dim(), "size")];
}
int64_t Tensor::checked_stride(int64_t d) const {
  check_not_scalar("stride", *this, d);
  return strides_[wrap_dim(d, dim(), "stride")];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  if (!storage_) throw std::runtime_error("raw_data: tensor is undefined");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

template <typename T> T Tensor::item() const {
  if (numel() != 1) throw std::invalid_argument("item: tensor of shape " + shape_str(shape_) + " has " + std::to_string(numel()) + " elements, expected 1");
  Tensor c = device().is_cpu() ? *this : to(Device::cpu());
  return dispatch_all(dtype_, "item", [&](auto tag) {
    using S = typename decltype(tag)::type;
    return static_cast<T>(*static_cast<const S*>(c.raw_data()));
  });
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int32_t Tensor::item<int32_t>() const;
template int64_t Tensor::item<int64_t>() const;
template uint8_t Tensor::item<uint8_t>() const;

double Tensor::at(const std::vector<int64_t>& index) const {
  check_cpu("at", *this);
  if (static_cast<int64_t>(index.size()) != dim()) throw std::invalid_argument("at: index has " + std::to_string(index.size()) + " entries for a " + std::to_string(dim()) + "-d tensor");
  int64_t off = 0;
  for (int64_t i = 0; i < dim(); ++i) {
    if (index[i] < 0 || index[i] >= shape_[i]) throw std::out_of_range("at: index out of range for shape " + shape_str(shape_));
    off += index[i] * strides_[i];
  }
  return dispatch_all(dtype_, "at", [&](auto tag) {
    using S = typename decltype(tag)::type;
    return static_cast<double>(static_cast<const S*>(raw_data())[off]);
  });
}

// ---- views ----------------------------------------------------------------------------------------

namespace {
Shape infer_shape(const Shape& shape, int64_t numel, const char* op, const Shape& from) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer >= 0) throw std::invalid_argument(std::string(op) + ": only one dimension can be -1 in " + shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else if (out[i] < 0) {
      throw std::invalid_argument(std::string(op) + ": negative dimension in " + shape_str(shape));
    } else {
      known *= out[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      throw std::invalid_argument(std::string(op) + ": cannot view shape " + shape_str(from) + " as " + shape_str(shape));
    out[infer] = numel / known;
  }
  if (numel_of(out) != numel)
    throw std::invalid_argument(std::string(op) + ": shape " + shape_str(shape) + " is invalid for a tensor of shape " +
                                shape_str(from) + " (" + std::to_string(numel) + " elements)");
  return out;
}

// Strides for viewing (shape, strides) as new_shape without a copy, or empty when impossible.
// Groups old dims into runs that are contiguous among themselves, then splits each run.
bool view_strides(const Shape& shape, const Strides& strides, const Shape& new_shape, Strides& out) {
  out.assign(new_shape.size(), 0);
  if (numel_of(shape) == 0) {
    out = contiguous_strides(new_shape);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  while (view_d >= 0) {  // trailing size-1 dims of the view
    out[view_d] = 1;
    --view_d;
  }
  return true;
}
}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  Shape s = infer_shape(shape, numel(), "view", shape_);
  Strides st;
  if (!view_strides(shape_, strides_, s, st))
    throw std::invalid_argument("view: shape " + shape_str(shape_) + " with strides " + shape_str(strides_) +
                                " cannot be viewed as " + shape_str(s) + " without a copy; use reshape");
  return Tensor(storage_, s, st, offset_, dtype_);
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape s = infer_shape(shape, numel(), "reshape", shape_);
  Strides st;
  if (view_strides(shape_, strides_, s, st)) return Tensor(storage_, s, st, offset_, dtype_);
  return contiguous().view(s);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  if (static_cast<int64_t>(dims.size()) != dim())
    throw std::invalid_argument("permute: got " + std::to_string(dims.size()) + " dims for a tensor of shape " + shape_str(shape_));
  Shape s(dims.size());
  Strides st(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], dim(), "permute");
    if (seen[d]) throw std::invalid_argument("permute: dim " + std::to_string(d) + " repeated");
    seen[d] = true;
    s[i] = shape_[d];
    st[i] = strides_[d];
  }
  return Tensor(storage_, s, st, offset_, dtype_);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  d0 = wrap_dim(d0, dim(), "transpose");
  d1 = wrap_dim(d1, dim(), "transpose");
  if (dim() == 0) return *this;
  Shape s = shape_;
  Strides st = strides_;
  std::swap(s[d0], s[d1]);
  std::swap(st[d0], st[d1]);
  return Tensor(storage_, s, st, offset_, dtype_);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  check_not_scalar("narrow", *this, d);
  d = wrap_dim(d, dim(), "narrow");
  if (start < 0) start += shape_[d];
  if (start < 0 || length < 0 || start + length > shape_[d])
    throw std::out_of_range("narrow: start " + std::to_string(start) + " length " + std::to_string(length) +
                            " out of range for dim " + std::to_string(d) + " of shape " + shape_str(shape_));
  Shape s = shape_;
  s[d] = length;
  return Tensor(storage_, s, strides_, offset_ + start * strides_[d], dtype_);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  check_not_scalar("slice", *this, d);
  d = wrap_dim(d, dim(), "slice");
  if (step <= 0) throw std::invalid_argument("slice: step must be positive, got " + std::to_string(step));
  int64_t n = shape_[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape_;
  Strides st = strides_;
  s[d] = (end - start + step - 1) / step;
  st[d] = strides_[d] * step;
  return Tensor(storage_, s, st, offset_ + start * strides_[d], dtype_);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  check_not_scalar("select", *this, d);
  d = wrap_dim(d, dim(), "select");
  if (index < 0) index += shape_[d];
  if (index < 0 || index >= shape_[d])
    throw std::out_of_range("select: index " + std::to_string(index) + " out of range for dim " + std::to_string(d) +
                            " of shape " + shape_str(shape_));
  Shape s = shape_;
  Strides st = strides_;
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return Tensor(storage_, s, st, offset_ + index * strides_[d], dtype_);
}

Tensor Tensor::expand(const Shape& shape) const {
  if (shape.size() < shape_.size())
    throw std::invalid_argument("expand: cannot expand shape " + shape_str(shape_) + " to " + shape_str(shape));
  size_t lead = shape.size() - shape_.size();
  Shape s(shape.size());
  Strides st(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      if (shape[i] < 0) throw std::invalid_argument("expand: -1 not allowed for a new leading dim in " + shape_str(shape));
      s[i] = shape[i];
      continue;
    }
    int64_t have = shape_[i - lead], want = shape[i] == -1 ? have : shape[i];
    if (want < 0) throw std::invalid_argument("expand: negative size in " + shape_str(shape));
    if (have == want) {
      s[i] = have;
      st[i] = strides_[i - lead];
    } else if (have == 1) {
      s[i] = want;
    } else {
      throw std::invalid_argument("expand: cannot expand shape " + shape_str(shape_) + " to " + shape_str(shape));
    }
  }
  return Tensor(storage_, s, st, offset_, dtype_);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  if (dim() == 0 || shape_[d] != 1) return *this;
  Shape s = shape_;
  Strides st = strides_;
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return Tensor(storage_, s, st, offset_, dtype_);
}

Tensor Tensor::squeeze() const {
  Shape s;
  Strides st;
  for (int64_t i = 0; i < dim(); ++i)
    if (shape_[i] != 1) {
      s.push_back(shape_[i]);
      st.push_back(strides_[i]);
    }
  return Tensor(storage_, s, st, offset_, dtype_);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape_;
  Strides st = strides_;
  int64_t new_stride = d < dim() ? shape_[d] * strides_[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, new_stride);
  return Tensor(storage_, s, st, offset_, dtype_);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  start_dim = wrap_dim(start_dim, dim(), "flatten");
  end_dim = wrap_dim(end_dim, dim(), "flatten");
  if (start_dim > end_dim) throw std::invalid_argument("flatten: start_dim after end_dim");
  Shape s(shape_.begin(), shape_.begin() + start_dim);
  int64_t m = 1;
  for (int64_t i = start_dim; i <= end_dim; ++i) m *= shape_[i];
  s.push_back(m);
  s.insert(s.end(), shape_.begin() + end_dim + 1, shape_.end());
  return reshape(s);
}

// ---- copies ---------------------------------------------------------------------------------------

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  check_defined("clone", *this);
  Tensor out = empty(shape_, dtype_, device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType dt) const {
  if (dt == dtype_) return *this;
  Tensor out = empty(shape_, dt, device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor out = empty(shape_, dtype_, d);
  out.copy_(*this);
  return out;
}

void Tensor::copy_(const Tensor& src) const {
  check_defined("copy_", *this, "destination");
  check_defined("copy_", src, "source");
  Shape b = broadcast_shapes(shape_, src.shape(), "copy_");
  if (b != shape_)
    throw std::invalid_argument("copy_: source of shape " + shape_str(src.shape()) + " does not broadcast to " + shape_str(shape_));
  // A copy touching a GPU (to, from or within) is the CUDA backend's.
  const Tensor& gpu_side = device().is_cuda() ? *this : src;
  PM_ON_CUDA(gpu_side, cuda::copy(*this, src); return);
  cpu::Operands<2> ops;
  ops.base = {static_cast<char*>(raw_data()), static_cast<char*>(src.raw_data())};
  ops.strides = {cpu::broadcast_byte_strides(*this, shape_), cpu::broadcast_byte_strides(src, shape_)};
  dispatch_all(dtype_, "copy_", [&](auto dtag) {
    using D = typename decltype(dtag)::type;
    dispatch_all(src.dtype(), "copy_", [&](auto stag) {
      using S = typename decltype(stag)::type;
      cpu::for_each_row(shape_, ops, [](std::array<char*, 2> p, const std::array<int64_t, 2>& st, int64_t n) {
        D* d = reinterpret_cast<D*>(p[0]);
        const S* s = reinterpret_cast<const S*>(p[1]);
        if (st[0] == sizeof(D) && st[1] == sizeof(S)) {
          if constexpr (std::is_same_v<D, S>) {
            std::memcpy(d, s, n * sizeof(D));
          } else {
            for (int64_t i = 0; i < n; ++i) d[i] = static_cast<D>(s[i]);
          }
        } else {
          // signed division: strides may be negative (flip reads through negated strides)
          const int64_t sd = st[0] / static_cast<int64_t>(sizeof(D)), ss = st[1] / static_cast<int64_t>(sizeof(S));
          for (int64_t i = 0; i < n; ++i) d[i * sd] = static_cast<D>(s[i * ss]);
        }
      });
    });
  });
}

void Tensor::fill_(double value) const {
  check_defined("fill_", *this);
  PM_ON_CUDA(*this, cuda::fill(*this, value); return);
  cpu::Operands<1> ops;
  ops.base = {static_cast<char*>(raw_data())};
  ops.strides = {cpu::broadcast_byte_strides(*this, shape_)};
  dispatch_all(dtype_, "fill_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v = static_cast<T>(value);
    cpu::for_each_row(shape_, ops, [v](std::array<char*, 1> p, const std::array<int64_t, 1>& st, int64_t n) {
      T* d = reinterpret_cast<T*>(p[0]);
      int64_t s = st[0] / static_cast<int64_t>(sizeof(T));
      for (int64_t i = 0; i < n; ++i) d[i * s] = v;
    });
  });
}

std::vector<double> Tensor::to_vector() const {
  Tensor c = to(Device::cpu()).contiguous();
  std::vector<double> out(static_cast<size_t>(numel()));
  dispatch_all(dtype_, "to_vector", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(c.raw_data());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(p[i]);
  });
  return out;
}

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(" << dtype_name(dtype_) << ", " << shape_str(shape_) << ", " << device().str() << ")";
  if (numel() <= 64) {
    os << " {";
    auto v = to_vector();
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
    os << "}";
  }
  return os.str();
}

// ---- argument checks ---------------------------------------------------------------------------------

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  if (a.device() != b.device())
    throw std::invalid_argument(std::string(op) + ": expected tensors on the same device, got " + a.device().str() +
                                " " + shape_str(a.shape()) + " and " + b.device().str() + " " + shape_str(b.shape()));
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(std::string(op) + ": expected the same dtype, got " + dtype_name(a.dtype()) + " " +
                                shape_str(a.shape()) + " and " + dtype_name(b.dtype()) + " " + shape_str(b.shape()));
}

void check_defined(const char* op, const Tensor& t, const char* what) {
  if (!t.defined()) throw std::invalid_argument(std::string(op) + ": " + what + " tensor is undefined");
}

void check_cpu(const char* op, const Tensor& t) {
  if (!t.device().is_cpu())
    throw std::runtime_error(std::string(op) + ": tensor on " + t.device().str() +
                             " is not supported by this build's CUDA backend yet");
}

}  // namespace tensor
