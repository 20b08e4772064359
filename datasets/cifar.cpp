// cifar.cpp: CIFAR binary records -> one uint8 [N, 3, 32, 32] tensor and the labels.
#include "datasets/cifar.h"

#include <cstring>
#include <sstream>

#include "datasets/errors.h"
#include "datasets/file_io.h"

namespace datasets {

CifarImages::CifarImages(const std::vector<std::string>& files, CifarKind kind, const std::string& names_file) {
  const int64_t label_bytes = kind == CifarKind::Cifar10 ? 1 : 2, pixels = 3 * 32 * 32, rec = label_bytes + pixels;
  const int64_t classes = kind == CifarKind::Cifar10 ? 10 : kind == CifarKind::Cifar100Fine ? 100 : 20;
  const char* kind_name = kind == CifarKind::Cifar10 ? "CIFAR-10" : "CIFAR-100";
  if (files.empty()) throw std::invalid_argument("CifarImages: no files given");
  if (!names_file.empty()) {
    std::istringstream in(read_file(names_file));
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (!line.empty()) names_.push_back(line);
    }
    if (static_cast<int64_t>(names_.size()) != classes)
      fail(names_file, std::to_string(names_.size()) + " class names, " + kind_name + " needs " + std::to_string(classes));
  } else {
    for (int64_t k = 0; k < classes; ++k) names_.push_back(std::to_string(k));
  }
  std::vector<std::string> contents;
  for (const auto& f : files) {
    contents.push_back(read_file_maybe_gzip(f));
    const int64_t sz = static_cast<int64_t>(contents.back().size());
    if (sz == 0 || sz % rec != 0)
      fail(f, "size " + std::to_string(sz) + " is not a whole number of " + std::to_string(rec) + "-byte " + kind_name +
                  " records (truncated?)");
    n_ += sz / rec;
  }
  images_ = tensor::Tensor::empty({n_, 3, 32, 32}, tensor::DType::UInt8);
  labels_.resize(n_);
  uint8_t* out = images_.data<uint8_t>();
  int64_t i = 0;
  for (size_t fi = 0; fi < files.size(); ++fi) {
    const auto* p = reinterpret_cast<const unsigned char*>(contents[fi].data());
    const int64_t count = static_cast<int64_t>(contents[fi].size()) / rec;
    for (int64_t r = 0; r < count; ++r, ++i) {
      const unsigned char* q = p + r * rec;
      const int64_t label = kind == CifarKind::Cifar100Fine ? q[1] : q[0];
      if (label >= classes)
        fail(files[fi], "record " + std::to_string(r) + ": label " + std::to_string(label) + " out of range for " +
                            std::to_string(classes) + " classes");
      labels_[i] = label;
      std::memcpy(out + i * pixels, q + label_bytes, pixels);
    }
  }
}

ImageExample CifarImages::get(int64_t index) const {
  check_index("CifarImages::get", index, n_);
  return {images_.select(0, index), labels_[index]};
}

std::shared_ptr<CifarImages> open_cifar10(const std::string& dir, bool train) {
  std::vector<std::string> files;
  if (train) {
    for (int k = 1; k <= 5; ++k) files.push_back(join_path(dir, "data_batch_" + std::to_string(k) + ".bin"));
  } else {
    files.push_back(join_path(dir, "test_batch.bin"));
  }
  const std::string meta = join_path(dir, "batches.meta.txt");
  return std::make_shared<CifarImages>(files, CifarKind::Cifar10, path_exists(meta) ? meta : "");
}

std::shared_ptr<CifarImages> open_cifar100(const std::string& dir, bool train, bool fine_labels) {
  const std::string meta = join_path(dir, fine_labels ? "fine_label_names.txt" : "coarse_label_names.txt");
  return std::make_shared<CifarImages>(std::vector<std::string>{join_path(dir, train ? "train.bin" : "test.bin")},
                                       fine_labels ? CifarKind::Cifar100Fine : CifarKind::Cifar100Coarse,
                                       path_exists(meta) ? meta : "");
}

}  // namespace datasets
