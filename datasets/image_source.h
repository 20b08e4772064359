// image_source.h: what every image data set yields: a uint8 image tensor [C, H, W] (channels
// first, as PyTorch lays them out), an integer label and the class names. Sources are read-only
// after construction, so get() may be called from several loader threads at once.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/errors.h"
#include "tensor/tensor.h"

namespace datasets {

struct ImageExample {
  tensor::Tensor image;  // uint8 [C, H, W]; may be a view into the source's memory: do not write to it
  int64_t label = -1;
};

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  virtual int64_t size() const = 0;
  // Example `index` in [0, size()). Throws std::out_of_range otherwise, DataError on a bad file.
  virtual ImageExample get(int64_t index) const = 0;
  // Names of the labels 0..num_classes()-1.
  virtual const std::vector<std::string>& class_names() const = 0;
  int64_t num_classes() const { return static_cast<int64_t>(class_names().size()); }
};

}  // namespace datasets
