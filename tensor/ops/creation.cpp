// creation.cpp: constants, ranges, random draws (Philox streams) and tensors from host vectors.
// Random draws on a GPU run there (tensor/cuda/random.cu) with the same counters and formulas, so
// a generator state gives the same values on either device.
#include "tensor/ops/creation.h"

#include <cmath>
#include <cstring>

#include "tensor/cpu/loops.h"
#include "tensor/cuda/dispatch.h"
#include "tensor/cuda/random.h"
#include "tensor/philox.h"

namespace tensor {

Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, t.dtype(), t.device()); }
Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }
Tensor scalar_tensor(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor arange(double start, double end, double step, DType dtype, Device device) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
    throw std::invalid_argument("arange: need finite start/end and a nonzero step");
  int64_t n = static_cast<int64_t>(std::ceil((end - start) / step));
  if (n < 0) n = 0;
  Tensor t = Tensor::empty({n}, dtype, Device::cpu());
  dispatch_all(dtype, "arange", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return t.to(device);
}

Tensor arange(int64_t end, DType dtype, Device device) { return arange(0, static_cast<double>(end), 1, dtype, device); }

Tensor eye(int64_t n, DType dtype, Device device) {
  Tensor t = zeros({n, n}, dtype, Device::cpu());
  dispatch_all(dtype, "eye", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < n; ++i) t.data<T>()[i * n + i] = T(1);
  });
  return t.to(device);
}

namespace {
// Fills a fresh CPU tensor element by element from counter (offset + i) of the generator's stream.
template <typename Draw> Tensor draw(const Shape& shape, DType dtype, Generator& g, const char* op, Draw f) {
  Tensor t = Tensor::empty(shape, dtype, Device::cpu());
  const int64_t n = t.numel();
  const uint64_t key = g.seed(), base = g.advance(static_cast<uint64_t>(n));
  dispatch_float(dtype, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    cpu::parallel_for(n, 64, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) p[i] = static_cast<T>(f(key, base + static_cast<uint64_t>(i), T{}));
    });
  });
  return t;
}

Generator& generator_or_default(Generator* gen) { return gen ? *gen : default_generator(); }
}  // namespace

// low + (high - low) * u and mean + std * z are fused multiply-adds on both devices (one rounding),
// so the CPU and the GPU give the same bits.
Tensor rand(const Shape& shape, DType dtype, Generator* gen, double low, double high, Device device) {
  Generator& g = generator_or_default(gen);
  if (device.is_cuda()) {
    Tensor t = Tensor::empty(shape, dtype, device);
    PM_ON_CUDA(t, cuda::fill_uniform(t, g.seed(), g.advance(static_cast<uint64_t>(t.numel())), low, high));
    return t;
  }
  return draw(shape, dtype, g, "rand", [low, high](uint64_t key, uint64_t c, auto zero) {
    double u = std::is_same_v<decltype(zero), float> ? philox::uniform_f32(key, c) : philox::uniform_f64(key, c);
    return philox::fused_mul_add(high - low, u, low);
  });
}

Tensor randn(const Shape& shape, DType dtype, Generator* gen, double mean, double std, Device device) {
  Generator& g = generator_or_default(gen);
  if (device.is_cuda()) {
    Tensor t = Tensor::empty(shape, dtype, device);
    PM_ON_CUDA(t, cuda::fill_normal(t, g.seed(), g.advance(static_cast<uint64_t>(t.numel())), mean, std));
    return t;
  }
  return draw(shape, dtype, g, "randn", [mean, std](uint64_t key, uint64_t c, auto) {
    return philox::fused_mul_add(std, philox::normal(key, c), mean);
  });
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* gen, Device device) {
  if (high <= low) throw std::invalid_argument("randint: need low < high, got [" + std::to_string(low) + ", " + std::to_string(high) + ")");
  if (device.is_cuda()) {  // the counters a float64 rand of this shape would take, as on the CPU
    Tensor t = Tensor::empty(shape, DType::Int64, device);
    PM_ON_CUDA(t, {
      Generator& g = generator_or_default(gen);
      cuda::fill_randint(t, g.seed(), g.advance(static_cast<uint64_t>(t.numel())), low, high);
    });
    return t;
  }
  Tensor u = rand(shape, DType::Float64, gen);
  Tensor t = Tensor::empty(shape, DType::Int64, Device::cpu());
  const double* up = u.data<double>();
  int64_t* p = t.data<int64_t>();
  const double span = static_cast<double>(high - low);
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = std::min(high - 1, low + static_cast<int64_t>(up[i] * span));
  return t;
}

template <typename T> Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != numel_of(shape))
    throw std::invalid_argument("from_vector: " + std::to_string(values.size()) + " values for shape " + shape_str(shape));
  Tensor t = Tensor::empty(shape, dtype_of<T>::value);
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&);

}  // namespace tensor
