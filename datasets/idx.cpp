// idx.cpp: IDX parsing (big-endian header, strict size checks) and the MNIST-style image source.
#include "datasets/idx.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "datasets/errors.h"
#include "datasets/file_io.h"

namespace datasets {

namespace {

uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::string dims_str(const std::vector<int64_t>& d) {
  std::string s;
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "x" : "") + std::to_string(d[i]);
  return s;
}

}  // namespace

tensor::Tensor read_idx(const std::string& path) {
  const std::string bytes = read_file_maybe_gzip(path);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 4) fail(path, "truncated IDX: " + std::to_string(bytes.size()) + " bytes, too short for the 4-byte magic");
  if (p[0] != 0 || p[1] != 0)
    fail(path, "not an IDX file (the magic must start with two zero bytes, got 0x" +
                   [&] { char b[16]; std::snprintf(b, sizeof b, "%02x%02x", p[0], p[1]); return std::string(b); }() + ")");
  const int type = p[2], ndim = p[3];
  int esize = 0;
  tensor::DType dt = tensor::DType::UInt8;
  switch (type) {
    case 0x08: esize = 1, dt = tensor::DType::UInt8; break;
    case 0x09: esize = 1, dt = tensor::DType::Int32; break;
    case 0x0B: esize = 2, dt = tensor::DType::Int32; break;
    case 0x0C: esize = 4, dt = tensor::DType::Int32; break;
    case 0x0D: esize = 4, dt = tensor::DType::Float32; break;
    case 0x0E: esize = 8, dt = tensor::DType::Float64; break;
    default: {
      char b[8];
      std::snprintf(b, sizeof b, "0x%02x", type);
      fail(path, std::string("unknown IDX element type ") + b);
    }
  }
  if (ndim == 0) fail(path, "IDX header has 0 dimensions");
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  if (bytes.size() < header)
    fail(path, "truncated IDX: the header needs " + std::to_string(header) + " bytes, the file has " + std::to_string(bytes.size()));
  std::vector<int64_t> dims(ndim);
  // The element count, saturating above 2^64 so that no header (up to 255 dims of 2^32) overflows.
  const unsigned __int128 cap = static_cast<unsigned __int128>(1) << 64;
  unsigned __int128 wide = 1;
  bool empty = false;
  for (int i = 0; i < ndim; ++i) {
    dims[i] = be32(p + 4 + 4 * i);
    empty = empty || dims[i] == 0;
    wide = std::min(cap, wide * static_cast<uint64_t>(dims[i]));
  }
  if (empty) wide = 0;
  const uint64_t have = bytes.size() - header;
  const unsigned __int128 wide_bytes = wide * static_cast<unsigned>(esize);
  if (wide_bytes > have)
    fail(path, "truncated IDX: header says " + dims_str(dims) + " = " +
                   ((wide_bytes >> 64) ? std::string("over 2^64") : std::to_string(static_cast<uint64_t>(wide_bytes))) +
                   " data bytes, the file has " + std::to_string(have) + " after the " + std::to_string(header) + "-byte header");
  const uint64_t count = static_cast<uint64_t>(wide), need = count * esize;
  if (have > need)
    fail(path, "IDX size mismatch: header says " + dims_str(dims) + " = " + std::to_string(need) + " data bytes, the file has " +
                   std::to_string(have) + " (" + std::to_string(have - need) + " trailing bytes)");
  tensor::Tensor t = tensor::Tensor::empty(dims, dt);
  const unsigned char* d = p + header;
  switch (type) {
    case 0x08: std::memcpy(t.data<uint8_t>(), d, count); break;
    case 0x09: for (uint64_t i = 0; i < count; ++i) t.data<int32_t>()[i] = static_cast<int8_t>(d[i]); break;
    case 0x0B:
      for (uint64_t i = 0; i < count; ++i) t.data<int32_t>()[i] = static_cast<int16_t>((d[2 * i] << 8) | d[2 * i + 1]);
      break;
    case 0x0C: for (uint64_t i = 0; i < count; ++i) t.data<int32_t>()[i] = static_cast<int32_t>(be32(d + 4 * i)); break;
    case 0x0D:
      for (uint64_t i = 0; i < count; ++i) {
        const uint32_t u = be32(d + 4 * i);
        std::memcpy(t.data<float>() + i, &u, 4);
      }
      break;
    case 0x0E:
      for (uint64_t i = 0; i < count; ++i) {
        const uint64_t u = (uint64_t(be32(d + 8 * i)) << 32) | be32(d + 8 * i + 4);
        std::memcpy(t.data<double>() + i, &u, 8);
      }
      break;
  }
  return t;
}

IdxImages::IdxImages(const std::string& images_path, const std::string& labels_path, std::vector<std::string> class_names,
                     int channels)
    : names_(std::move(class_names)) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw std::invalid_argument("IdxImages: channels must be 0 (as stored), 1 or 3, got " + std::to_string(channels));
  tensor::Tensor imgs = read_idx(images_path);
  if (imgs.dtype() != tensor::DType::UInt8) fail(images_path, std::string("IDX images must be uint8, got ") + tensor::dtype_name(imgs.dtype()));
  if (imgs.dim() == 3) {
    imgs = imgs.unsqueeze(1);  // [N, 1, H, W]
  } else if (imgs.dim() == 4) {
    imgs = imgs.permute({0, 3, 1, 2}).contiguous();  // [N, H, W, C] -> [N, C, H, W]
  } else {
    fail(images_path, "IDX images must have 3 dims [N, H, W] or 4 [N, H, W, C], got " + std::to_string(imgs.dim()));
  }
  tensor::Tensor labs = read_idx(labels_path);
  if (labs.dim() != 1) fail(labels_path, "IDX labels must have 1 dim [N], got " + std::to_string(labs.dim()));
  n_ = imgs.size(0);
  if (labs.size(0) != n_)
    fail(labels_path, std::to_string(labs.size(0)) + " labels for " + std::to_string(n_) + " images in " + images_path);
  labels_.resize(n_);
  int64_t max_label = -1;
  const auto lv = labs.to_vector();
  for (int64_t i = 0; i < n_; ++i) {
    labels_[i] = static_cast<int64_t>(lv[i]);
    if (labels_[i] < 0) fail(labels_path, "negative label " + std::to_string(labels_[i]) + " at index " + std::to_string(i));
    max_label = std::max(max_label, labels_[i]);
  }
  if (names_.empty()) {
    for (int64_t k = 0; k <= max_label; ++k) names_.push_back(std::to_string(k));
  } else if (max_label >= static_cast<int64_t>(names_.size())) {
    fail(labels_path, "label " + std::to_string(max_label) + " but only " + std::to_string(names_.size()) + " class names");
  }
  const int64_t c = imgs.size(1);
  if (channels == 0 || channels == c) {
    images_ = imgs;
  } else if (channels == 3 && c == 1) {
    images_ = imgs.expand({n_, 3, imgs.size(2), imgs.size(3)});
  } else if (channels == 1 && c == 3) {
    const int64_t hw = imgs.size(2) * imgs.size(3);
    images_ = tensor::Tensor::empty({n_, 1, imgs.size(2), imgs.size(3)}, tensor::DType::UInt8);
    const uint8_t* s = imgs.data<uint8_t>();
    uint8_t* o = images_.data<uint8_t>();
    for (int64_t i = 0; i < n_; ++i)
      for (int64_t k = 0; k < hw; ++k) {
        const uint8_t* px = s + i * 3 * hw + k;
        o[i * hw + k] = static_cast<uint8_t>(0.299 * px[0] + 0.587 * px[hw] + 0.114 * px[2 * hw] + 0.5);
      }
  } else {
    fail(images_path, "cannot convert " + std::to_string(c) + "-channel images to " + std::to_string(channels) + " channels");
  }
}

ImageExample IdxImages::get(int64_t index) const {
  check_index("IdxImages::get", index, n_);
  return {images_.select(0, index), labels_[index]};
}

std::vector<std::string> mnist_class_names() { return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}; }

std::vector<std::string> fashion_mnist_class_names() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
}

namespace {

std::string find_idx(const std::string& dir, const std::string& stem) {
  for (const char* ext : {"", ".gz"}) {
    const std::string p = join_path(dir, stem + ext);
    if (path_exists(p)) return p;
  }
  fail(join_path(dir, stem), "not found (nor " + stem + ".gz); run scripts/get-data.sh vision");
}

std::shared_ptr<IdxImages> open_idx_pair(const std::string& dir, bool train, int channels, std::vector<std::string> names) {
  const std::string split = train ? "train" : "t10k";
  const std::string images = find_idx(dir, split + "-images-idx3-ubyte");
  const std::string labels = find_idx(dir, split + "-labels-idx1-ubyte");
  return std::make_shared<IdxImages>(images, labels, std::move(names), channels);
}

}  // namespace

std::shared_ptr<IdxImages> open_mnist(const std::string& dir, bool train, int channels) {
  return open_idx_pair(dir, train, channels, mnist_class_names());
}

std::shared_ptr<IdxImages> open_fashion_mnist(const std::string& dir, bool train, int channels) {
  return open_idx_pair(dir, train, channels, fashion_mnist_class_names());
}

}  // namespace datasets
