// image_decode.cpp: the one translation unit that compiles stb_image (and stb_image_write), both
// static to this file so they can never clash with another copy in the program.
#include "datasets/image_decode.h"

#include <cstring>
#include <stdexcept>

#include "datasets/errors.h"
#include "datasets/file_io.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace datasets {

tensor::Tensor decode_image(const std::string& bytes, int channels, const std::string& path) {
  if (channels != 1 && channels != 3)
    throw std::invalid_argument("decode_image: channels must be 1 or 3, got " + std::to_string(channels));
  if (bytes.empty()) fail(path, "cannot decode image (empty file)");
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) fail(path, "cannot decode image (larger than 2 GiB)");
  int w = 0, h = 0, file_channels = 0;
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w, &h,
                                            &file_channels, channels);
  if (!px) fail(path, std::string("cannot decode image (stb_image: ") + stbi_failure_reason() + ")");
  tensor::Tensor out = tensor::Tensor::empty({channels, h, w}, tensor::DType::UInt8);
  uint8_t* o = out.data<uint8_t>();
  const int64_t hw = static_cast<int64_t>(h) * w;
  if (channels == 1) {
    std::memcpy(o, px, hw);
  } else {
    for (int64_t k = 0; k < hw; ++k)  // interleaved RGB -> planes
      for (int c = 0; c < 3; ++c) o[c * hw + k] = px[3 * k + c];
  }
  stbi_image_free(px);
  return out;
}

tensor::Tensor load_image(const std::string& path, int channels) { return decode_image(read_file(path), channels, path); }

namespace {
void append_bytes(void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); }
}  // namespace

std::string encode_png(const tensor::Tensor& image) {
  if (image.dtype() != tensor::DType::UInt8 || image.dim() != 3 || (image.size(0) != 1 && image.size(0) != 3))
    throw std::invalid_argument("encode_png: expected a uint8 [1 or 3, H, W] image, got " + std::string(tensor::dtype_name(image.dtype())) +
                                " " + tensor::shape_str(image.shape()));
  const tensor::Tensor hwc = image.permute({1, 2, 0}).contiguous();
  const int c = static_cast<int>(image.size(0)), h = static_cast<int>(image.size(1)), w = static_cast<int>(image.size(2));
  std::string out;
  if (!stbi_write_png_to_func(append_bytes, &out, w, h, c, hwc.data<uint8_t>(), w * c))
    throw std::runtime_error("encode_png: stb_image_write failed");
  return out;
}

}  // namespace datasets
