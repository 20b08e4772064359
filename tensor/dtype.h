// dtype.h: the element types a Tensor can hold, their sizes and names, and the dispatch helpers that
// turn a runtime DType into a compile-time C++ type for kernels.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace tensor {

enum class DType : uint8_t { Float32, Float64, Int32, Int64, UInt8, BFloat16 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::UInt8: return 1;
    case DType::BFloat16: return 2;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::UInt8: return "uint8";
    case DType::BFloat16: return "bfloat16";
  }
  return "?";
}

inline bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };

// A tag carrying a type through a generic lambda: dispatch(dt, op, [&](auto tag){ using T = typename
// decltype(tag)::type; ... }).
template <typename T> struct type_tag { using type = T; };

// Float types only (float32, float64): the math kernels. `op` names the caller in the error.
template <typename F> decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f(type_tag<float>{});
    case DType::Float64: return f(type_tag<double>{});
    default: throw std::invalid_argument(std::string(op) + ": expected a float32 or float64 tensor, got " + dtype_name(t));
  }
}

// Every dtype with kernels (bfloat16 is reserved for storage and throws).
template <typename F> decltype(auto) dispatch_all(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f(type_tag<float>{});
    case DType::Float64: return f(type_tag<double>{});
    case DType::Int32: return f(type_tag<int32_t>{});
    case DType::Int64: return f(type_tag<int64_t>{});
    case DType::UInt8: return f(type_tag<uint8_t>{});
    default: throw std::invalid_argument(std::string(op) + ": dtype " + dtype_name(t) + " has no kernels yet");
  }
}

}  // namespace tensor
