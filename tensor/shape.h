// shape.h: shapes and strides (in elements), their printing, and the broadcasting rule.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tensor {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

int64_t numel_of(const Shape& s);
Strides contiguous_strides(const Shape& s);
std::string shape_str(const Shape& s);  // "[2, 3, 4]"
// Wraps a possibly negative dimension into [0, ndim); throws naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// NumPy broadcasting of two shapes; throws "op: shapes [..] and [..] do not broadcast".
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace tensor
