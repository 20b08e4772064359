// creation.h: tensors made from nothing: constants, ranges, random draws, host data.
#pragma once
#include <vector>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace tensor {

Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor empty_like(const Tensor& t);
// A 0-d tensor holding `value`.
Tensor scalar_tensor(double value, DType dtype = DType::Float32, Device device = Device::cpu());
// [start, end) in steps of `step`, like torch.arange.
Tensor arange(double start, double end, double step = 1, DType dtype = DType::Int64, Device device = Device::cpu());
Tensor arange(int64_t end, DType dtype = DType::Int64, Device device = Device::cpu());
Tensor eye(int64_t n, DType dtype = DType::Float32, Device device = Device::cpu());

// Uniform in [low, high) and normal(mean, std), drawn from `gen` (the default generator when null).
Tensor rand(const Shape& shape, DType dtype = DType::Float32, Generator* gen = nullptr, double low = 0, double high = 1,
            Device device = Device::cpu());
Tensor randn(const Shape& shape, DType dtype = DType::Float32, Generator* gen = nullptr, double mean = 0,
             double std = 1, Device device = Device::cpu());
// Uniform integers in [low, high), int64.
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* gen = nullptr, Device device = Device::cpu());

// A CPU tensor holding a copy of `values` (row-major) with the given shape.
template <typename T> Tensor from_vector(const std::vector<T>& values, const Shape& shape);

}  // namespace tensor
