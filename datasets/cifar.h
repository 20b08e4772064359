// cifar.h: the CIFAR-10 / CIFAR-100 binary format (for people who have those files; no package
// here ships them). A CIFAR-10 record is 1 label byte + 3072 pixel bytes (the 32x32 red plane,
// then green, then blue, rows top to bottom); a CIFAR-100 record has a coarse and a fine label byte
// before the pixels.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "datasets/image_source.h"

namespace datasets {

enum class CifarKind { Cifar10, Cifar100Fine, Cifar100Coarse };

class CifarImages : public ImageSource {
 public:
  // Records from each file in order. Class names: given, or read from `names_file` (one per line:
  // batches.meta.txt, fine_label_names.txt, coarse_label_names.txt) when that is non-empty, or
  // "0".."K-1". A file whose size is not a whole number of records, or a label beyond the
  // class count, is a DataError naming the file.
  CifarImages(const std::vector<std::string>& files, CifarKind kind, const std::string& names_file = "");
  int64_t size() const override { return n_; }
  ImageExample get(int64_t index) const override;
  const std::vector<std::string>& class_names() const override { return names_; }

 private:
  tensor::Tensor images_;  // uint8 [N, 3, 32, 32]
  std::vector<int64_t> labels_;
  std::vector<std::string> names_;
  int64_t n_ = 0;
};

// The standard layouts: cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin + batches.meta.txt,
// and cifar-100-binary/{train,test}.bin + {fine,coarse}_label_names.txt.
std::shared_ptr<CifarImages> open_cifar10(const std::string& dir, bool train);
std::shared_ptr<CifarImages> open_cifar100(const std::string& dir, bool train, bool fine_labels = true);

}  // namespace datasets
