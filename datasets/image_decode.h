// image_decode.h: PNG / JPEG / BMP decoding through stb_image (libstb-dev), to a uint8 tensor
// [C, H, W] with C = the channel count asked for (grey <-> RGB converted by stb_image, alpha
// dropped).
#pragma once
#include <string>

#include "tensor/tensor.h"

namespace datasets {

// Decodes encoded image bytes that came from `path` (named in errors). channels: 1 or 3.
// Throws DataError "path: cannot decode image (reason)".
tensor::Tensor decode_image(const std::string& bytes, int channels, const std::string& path);
// Reads and decodes a file.
tensor::Tensor load_image(const std::string& path, int channels);
// Encodes a uint8 [C, H, W] image (C = 1 or 3) as PNG bytes (stb_image_write); for tests and dumps.
std::string encode_png(const tensor::Tensor& image);

}  // namespace datasets
