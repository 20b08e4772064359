// safetensors.h: reading and writing checkpoint files in the safetensors format (a u64 little-endian
// header length, a JSON header naming each tensor's dtype, shape and byte span, then the raw
// little-endian bytes). The reader validates the whole header when it opens a file and reads one
// tensor's bytes only when asked; the writer replaces its target atomically (temp file + rename).
//
// dtypes: every dtype string of the format (BOOL U8 I8 I16 U16 F16 BF16 I32 U32 F32 F64 I64 U64
// F8_E4M3 F8_E5M2) is accepted in a header, so a file can be opened and listed whatever it holds;
// any other string rejects the file. Loading gives these tensor dtypes:
//   F32 F64 I32 I64 U8 -> the same dtype          F16 BF16 -> float32 (exact)
//   BOOL -> uint8 (0/1)                            I8 I16 U16 -> int32, U32 -> int64 (widened)
//   U64 F8_E4M3 F8_E5M2 -> load() throws naming the tensor and the dtype.
// The writer writes float32, float64, int32, int64, uint8 (and bfloat16) tensors as they are.
//
// Every error is one line that starts with the file's path and names the tensor at fault.
// Not thread-safe beyond: one SafetensorsFile may be read from several threads (reads are serialised).
#pragma once
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace nn {

// One header entry. `dtype` is the format's string ("F32", "BF16", ...); begin/end are byte offsets
// relative to the start of the data section, end exclusive.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;
  tensor::Shape shape;
  uint64_t begin = 0, end = 0;
};

struct SafetensorsLoadOptions {
  // When set (Float32 or Float64), every floating tensor (F16, BF16, F32, F64) is converted to it.
  std::optional<tensor::DType> float_dtype;
};

// The largest header accepted (the reference implementation's bound is of the same order).
constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

class SafetensorsFile {
 public:
  // Opens and validates `path`; throws std::runtime_error on any format problem.
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return path_; }
  // Tensor names in sorted order.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  size_t size() const { return entries_.size(); }
  // Throws std::out_of_range naming the file and the tensor when it is absent.
  const SafetensorsEntry& entry(const std::string& name) const;
  const tensor::Shape& shape(const std::string& name) const { return entry(name).shape; }
  // The dtype load() returns for this tensor (with default options); throws for U64 / F8 tensors.
  tensor::DType dtype(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Reads one tensor into a fresh contiguous CPU tensor.
  tensor::Tensor load(const std::string& name, const SafetensorsLoadOptions& opt = {}) const;
  std::map<std::string, tensor::Tensor> load_all(const SafetensorsLoadOptions& opt = {}) const;

 private:
  std::string path_;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
  uint64_t data_start_ = 0;  // file offset of the data section (8 + header length)
  // Kept open so that a file replaced on disk (atomic save) does not change what this object reads.
  mutable std::ifstream in_;
  mutable std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();
};

// Reads every tensor of a file (and, when `metadata` is given, its metadata).
std::map<std::string, tensor::Tensor> load_safetensors(const std::string& path, const SafetensorsLoadOptions& opt = {},
                                                       std::map<std::string, std::string>* metadata = nullptr);

// Writes `tensors` (keys sorted, data in key order, header padded with spaces to a multiple of 8
// bytes) to "<path>.tmp.<pid>", flushes it to disk and renames it over `path`. On any error the temp
// file is removed, `path` is left as it was, and std::runtime_error (or std::invalid_argument for a
// bad tensor) is thrown. Tensors may be non-contiguous and on any device.
void save_safetensors(const std::string& path, const std::map<std::string, tensor::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// The safetensors dtype string a tensor dtype is written as ("F32", ...).
const char* safetensors_dtype_name(tensor::DType dtype);

}  // namespace nn
