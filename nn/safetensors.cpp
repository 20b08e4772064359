// safetensors.cpp: the safetensors reader (header validation, per-tensor reads with F16/BF16
// decoding) and the atomic writer.
#include "nn/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "tensor/ops/creation.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace nn {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;
using json = nlohmann::json;

namespace {

// ---- dtypes ---------------------------------------------------------------------------------------

struct DTypeInfo {
  const char* name;
  size_t size;          // bytes per element
  bool loadable;        // load() supports it
  DType loads_as;       // the tensor dtype load() gives (before float conversion)
};

const DTypeInfo kDTypes[] = {
    {"BOOL", 1, true, DType::UInt8},     {"U8", 1, true, DType::UInt8},       {"I8", 1, true, DType::Int32},
    {"I16", 2, true, DType::Int32},      {"U16", 2, true, DType::Int32},      {"F16", 2, true, DType::Float32},
    {"BF16", 2, true, DType::Float32},   {"I32", 4, true, DType::Int32},      {"U32", 4, true, DType::Int64},
    {"F32", 4, true, DType::Float32},    {"F64", 8, true, DType::Float64},    {"I64", 8, true, DType::Int64},
    {"U64", 8, false, DType::Int64},     {"F8_E4M3", 1, false, DType::Float32}, {"F8_E5M2", 1, false, DType::Float32},
};

const DTypeInfo* find_dtype(const std::string& s) {
  for (const auto& d : kDTypes)
    if (s == d.name) return &d;
  return nullptr;
}

bool is_float_name(const std::string& s) { return s == "F16" || s == "BF16" || s == "F32" || s == "F64"; }

// IEEE half -> float, exact for every value (subnormals, infinities and NaN payloads included).
float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h >> 15) << 31;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    float v = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal: mant * 2^-24
    return sign ? -v : v;
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf or NaN
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// bfloat16 is the top half of a float32.
float bf16_to_float(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::string offsets_str(uint64_t b, uint64_t e) { return "[" + std::to_string(b) + ", " + std::to_string(e) + "]"; }

const char* json_kind(const json& j) {
  switch (j.type()) {
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::null: return "null";
    case json::value_t::number_float: return "a non-integer number";
    default: return "a number";
  }
}

// A JSON value that must be a non-negative integer (within int64 range).
bool as_index(const json& j, uint64_t& out) {
  if (j.is_number_unsigned()) {
    out = j.get<uint64_t>();
  } else if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    if (v < 0) return false;
    out = static_cast<uint64_t>(v);
  } else {
    return false;
  }
  return out <= static_cast<uint64_t>(INT64_MAX);
}

}  // namespace

// ---- reader ---------------------------------------------------------------------------------------

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  auto fail = [&](const std::string& msg) { throw std::runtime_error(path_ + ": " + msg); };
  in_.open(path, std::ios::binary);
  if (!in_) fail(std::string("cannot open: ") + std::strerror(errno));
  in_.seekg(0, std::ios::end);
  uint64_t file_size = static_cast<uint64_t>(in_.tellg());
  in_.seekg(0);
  if (file_size < 8)
    fail("file is " + std::to_string(file_size) + " bytes, too short for the 8-byte header length");
  unsigned char len_bytes[8];
  in_.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > kSafetensorsMaxHeaderBytes)
    fail("header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kSafetensorsMaxHeaderBytes) +
         " bytes (not a safetensors file?)");
  if (8 + n > file_size)
    fail("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(file_size) +
         " bytes)");
  std::string header(n, '\0');
  in_.read(header.data(), static_cast<std::streamsize>(n));
  if (static_cast<uint64_t>(in_.gcount()) != n) fail("could not read the " + std::to_string(n) + "-byte header");
  data_start_ = 8 + n;
  const uint64_t data_size = file_size - data_start_;

  // Parse, noting duplicate top-level keys (the JSON library would silently keep the last one).
  std::string duplicate;
  std::vector<std::string> seen;
  json j;
  try {
    j = json::parse(header, [&](int depth, json::parse_event_t ev, json& v) {
      if (ev == json::parse_event_t::key && depth == 1 && v.is_string()) {
        const auto& k = v.get_ref<const std::string&>();
        if (std::find(seen.begin(), seen.end(), k) != seen.end() && duplicate.empty()) duplicate = k;
        seen.push_back(k);
      }
      return true;
    });
  } catch (const json::exception& e) {
    fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(std::string("header is ") + json_kind(j) + ", not a JSON object");
  if (header.empty() || header[0] != '{') fail("header must start with '{'");
  if (!duplicate.empty()) fail("tensor '" + duplicate + "' appears twice in the header");

  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(std::string("__metadata__ is ") + json_kind(v) + ", expected an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          fail("__metadata__ entry '" + m.key() + "' is " + json_kind(m.value()) + ", expected a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& msg) { fail("tensor '" + name + "': " + msg); };
    if (!v.is_object()) bad(std::string("entry is ") + json_kind(v) + ", expected an object");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!v.contains(field)) bad(std::string("entry has no \"") + field + "\"");
    SafetensorsEntry e;
    e.name = name;
    if (!v["dtype"].is_string()) bad(std::string("dtype is ") + json_kind(v["dtype"]) + ", expected a string");
    e.dtype = v["dtype"].get<std::string>();
    const DTypeInfo* dt = find_dtype(e.dtype);
    if (!dt) bad("unknown dtype '" + e.dtype + "'");
    const json& shape = v["shape"];
    if (!shape.is_array()) bad(std::string("shape is ") + json_kind(shape) + ", expected an array");
    uint64_t numel = 1;
    bool overflow = false;
    for (const json& d : shape) {
      uint64_t x;
      if (!as_index(d, x)) bad("shape " + shape.dump() + " must hold non-negative integers");
      e.shape.push_back(static_cast<int64_t>(x));
      overflow = overflow || __builtin_mul_overflow(numel, x, &numel);
    }
    const json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !as_index(off[0], e.begin) || !as_index(off[1], e.end))
      bad("data_offsets " + off.dump() + " must be two non-negative integers [begin, end]");
    if (e.end < e.begin) bad("data_offsets " + offsets_str(e.begin, e.end) + " end before they begin");
    if (e.end > data_size)
      bad("data_offsets " + offsets_str(e.begin, e.end) + " run past the end of the " + std::to_string(data_size) +
          "-byte data section");
    uint64_t need = 0;
    overflow = overflow || __builtin_mul_overflow(numel, dt->size, &need);
    if (overflow || need != e.end - e.begin)
      bad("data_offsets " + offsets_str(e.begin, e.end) + " hold " + std::to_string(e.end - e.begin) +
          " bytes, shape " + tensor::shape_str(e.shape) + " " + e.dtype + " needs " +
          (overflow ? std::string("more than 2^64") : std::to_string(need)));
    entries_.emplace(name, std::move(e));
  }

  // The spans must tile the data section exactly: sorted by begin, each starts where the last ended.
  std::vector<const SafetensorsEntry*> spans;
  for (const auto& kv : entries_) spans.push_back(&kv.second);
  std::sort(spans.begin(), spans.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  const SafetensorsEntry* prev = nullptr;
  for (const SafetensorsEntry* s : spans) {
    if (s->begin < pos)
      fail("tensors '" + prev->name + "' " + offsets_str(prev->begin, prev->end) + " and '" + s->name + "' " +
           offsets_str(s->begin, s->end) + " overlap");
    if (s->begin > pos)
      fail("bytes [" + std::to_string(pos) + ", " + std::to_string(s->begin) +
           ") of the data section belong to no tensor (gap before '" + s->name + "')");
    pos = s->end;
    prev = s;
  }
  if (pos != data_size)
    fail("bytes [" + std::to_string(pos) + ", " + std::to_string(data_size) +
         ") at the end of the data section belong to no tensor");
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& kv : entries_) out.push_back(kv.first);
  return out;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    throw std::out_of_range(path_ + ": no tensor named '" + name + "' (the file holds " +
                            std::to_string(entries_.size()) + " tensors)");
  return it->second;
}

tensor::DType SafetensorsFile::dtype(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  const DTypeInfo* dt = find_dtype(e.dtype);
  if (!dt->loadable) throw std::runtime_error(path_ + ": tensor '" + name + "': dtype " + e.dtype + " cannot be loaded");
  return dt->loads_as;
}

Tensor SafetensorsFile::load(const std::string& name, const SafetensorsLoadOptions& opt) const {
  const SafetensorsEntry& e = entry(name);
  const DTypeInfo* dt = find_dtype(e.dtype);
  auto fail = [&](const std::string& msg) { throw std::runtime_error(path_ + ": tensor '" + name + "': " + msg); };
  if (!dt->loadable) fail("dtype " + e.dtype + " cannot be loaded");
  if (opt.float_dtype && !tensor::is_floating(*opt.float_dtype))
    fail(std::string("float_dtype must be float32 or float64, got ") + tensor::dtype_name(*opt.float_dtype));

  const uint64_t nbytes = e.end - e.begin;
  const int64_t n = tensor::numel_of(e.shape);
  // Native dtypes land straight in the tensor; the others go through a staging buffer.
  const bool native = dt->size == tensor::dtype_size(dt->loads_as) && e.dtype != "F16" && e.dtype != "BF16";
  Tensor out = Tensor::empty(e.shape, dt->loads_as);
  std::vector<unsigned char> staging;
  char* dst = nullptr;
  if (native) {
    dst = static_cast<char*>(out.raw_data());
  } else {
    staging.resize(nbytes);
    dst = reinterpret_cast<char*>(staging.data());
  }
  if (nbytes > 0) {
    std::lock_guard<std::mutex> lock(*mu_);
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(data_start_ + e.begin));
    in_.read(dst, static_cast<std::streamsize>(nbytes));
    if (!in_ || static_cast<uint64_t>(in_.gcount()) != nbytes)
      fail("could not read " + std::to_string(nbytes) + " bytes at data offset " + std::to_string(e.begin) +
           " (file changed or truncated?)");
  }
  if (!native) {
    const unsigned char* s = staging.data();
    auto rd16 = [&](int64_t i) {
      uint16_t v;
      std::memcpy(&v, s + 2 * i, 2);
      return v;
    };
    if (e.dtype == "F16" || e.dtype == "BF16") {
      float* d = out.data<float>();
      bool half = e.dtype == "F16";
      for (int64_t i = 0; i < n; ++i) d[i] = half ? half_to_float(rd16(i)) : bf16_to_float(rd16(i));
    } else if (e.dtype == "I8") {
      int32_t* d = out.data<int32_t>();
      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<int8_t>(s[i]);
    } else if (e.dtype == "I16") {
      int32_t* d = out.data<int32_t>();
      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<int16_t>(rd16(i));
    } else if (e.dtype == "U16") {
      int32_t* d = out.data<int32_t>();
      for (int64_t i = 0; i < n; ++i) d[i] = rd16(i);
    } else if (e.dtype == "U32") {
      int64_t* d = out.data<int64_t>();
      for (int64_t i = 0; i < n; ++i) {
        uint32_t v;
        std::memcpy(&v, s + 4 * i, 4);
        d[i] = v;
      }
    }
  }
  if (e.dtype == "BOOL") {
    const uint8_t* d = out.data<uint8_t>();
    for (int64_t i = 0; i < n; ++i)
      if (d[i] > 1) fail("BOOL value " + std::to_string(d[i]) + " at element " + std::to_string(i) + " is not 0 or 1");
  }
  if (opt.float_dtype && is_float_name(e.dtype) && out.dtype() != *opt.float_dtype) out = out.to(*opt.float_dtype);
  return out;
}

std::map<std::string, Tensor> SafetensorsFile::load_all(const SafetensorsLoadOptions& opt) const {
  std::map<std::string, Tensor> out;
  for (const auto& kv : entries_) out.emplace(kv.first, load(kv.first, opt));
  return out;
}

std::map<std::string, Tensor> load_safetensors(const std::string& path, const SafetensorsLoadOptions& opt,
                                               std::map<std::string, std::string>* metadata) {
  SafetensorsFile f(path);
  if (metadata) *metadata = f.metadata();
  return f.load_all(opt);
}

// ---- writer ---------------------------------------------------------------------------------------

const char* safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int32: return "I32";
    case DType::Int64: return "I64";
    case DType::UInt8: return "U8";
    case DType::BFloat16: return "BF16";
  }
  return "?";
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // Everything that can be checked is checked before a byte is written.
  std::vector<Tensor> data;  // contiguous CPU copies (or the tensors themselves), in key order
  std::string header = "{";
  if (!metadata.empty()) header += "\"__metadata__\":" + json(metadata).dump();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    auto bad = [&](const std::string& msg) {
      throw std::invalid_argument(path + ": cannot save tensor '" + name + "': " + msg);
    };
    if (name.empty()) throw std::invalid_argument(path + ": cannot save a tensor with an empty name");
    if (name == "__metadata__") bad("the name is reserved for metadata");
    if (!t.defined()) bad("tensor is undefined");
    Tensor c;
    try {
      c = t.to(tensor::Device::cpu()).contiguous();
    } catch (const std::exception& e) {
      bad(e.what());
    }
    uint64_t nbytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    json entry = {{"dtype", safetensors_dtype_name(c.dtype())},
                  {"shape", c.shape()},
                  {"data_offsets", {offset, offset + nbytes}}};
    std::string key;
    try {
      key = json(name).dump();
    } catch (const json::exception&) {
      bad("the name is not valid UTF-8");
    }
    if (header.size() > 1) header += ",";
    header += key + ":" + entry.dump();
    offset += nbytes;
    data.push_back(c);
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');  // data section starts 8-byte aligned

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  auto fail = [&](const std::string& what, int err) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": " + what + ": " + std::strerror(err));
  };
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error(path + ": cannot create '" + tmp + "': " + std::strerror(errno));
  auto put = [&](const void* p, size_t n) {
    if (n > 0 && std::fwrite(p, 1, n, f) != n) {
      int err = errno;
      std::fclose(f);
      fail("cannot write '" + tmp + "'", err);
    }
  };
  unsigned char len[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  put(len, 8);
  put(header.data(), header.size());
  for (const Tensor& c : data) put(c.raw_data(), static_cast<size_t>(c.numel()) * c.element_size());
  if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0) {
    int err = errno;
    std::fclose(f);
    fail("cannot write '" + tmp + "'", err);
  }
  if (std::fclose(f) != 0) fail("cannot close '" + tmp + "'", errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename '" + tmp + "' over it", errno);
}

}  // namespace nn
