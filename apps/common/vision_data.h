// vision_data.h: the image data the Vim programs train and evaluate on: opening a set by name
// (mnist | fashion-mnist | cifar10) or path (a folder of IDX files, or an ImageFolder root), holding
// a subset in memory already shaped and normalised for a model (with a one-line error when the
// images do not fit it), the step-th training batch (a pure function of the step, so --resume sees
// the same batches), and the mean loss / accuracy over a set.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "apps/common/trainer.h"
#include "datasets/image_source.h"
#include "mamba/config.h"
#include "mamba/vision.h"
#include "tensor/tensor.h"

namespace apps {

struct ImageSet {
  std::string name;
  tensor::Tensor images;    // float32 [N, C, H, W], normalised with the model's image_mean / image_std
  tensor::Tensor labels;    // int64 [N]
  int64_t num_classes = 0;  // of the source
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// `spec`: mnist | fashion-mnist | cifar10 (data/cifar-10-batches-bin) | a folder holding
// {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] | an ImageFolder root (root/<class>/*.png,
// decoded with `folder_channels`). `flag` ("--data") names the flag in errors.
std::shared_ptr<const datasets::ImageSource> open_image_data(const std::string& spec, bool train, int folder_channels,
                                                             const std::string& flag);

// Up to `limit` examples (0: all; a seeded random subset otherwise) for a model of `cfg`: channels
// must match (else "--data mnist: 1-channel images, but the model takes 3"), labels must be below
// cfg.num_classes; images are resized to img_size when needed and normalised. Moved to `device`.
ImageSet load_image_set(const datasets::ImageSource& src, const mamba::VimConfig& cfg, int64_t limit, uint64_t seed,
                        const std::string& spec, const std::string& flag, tensor::Device device);

// Any data spec, for a model of `cfg`: a .safetensors file holding "images" [N, C, H, W] (float:
// used as they are, already normalised; uint8: normalised here) and int64 "labels" [N] (the whole
// file, whatever `train` says), or else open_image_data + load_image_set.
ImageSet load_image_data(const std::string& spec, bool train, const mamba::VimConfig& cfg, int64_t limit, uint64_t seed,
                         const std::string& flag, tensor::Device device);

// Whole batches per epoch (the last partial batch is dropped; at least 1).
int64_t batches_per_epoch(const ImageSet& s, int64_t batch_size);
// The step-th batch: epoch step / batches_per_epoch, in the order datasets::epoch_order(n, true, seed, epoch).
void batch_for_step(const ImageSet& s, int64_t step, int64_t batch_size, uint64_t seed, tensor::Tensor& images,
                    tensor::Tensor& labels);

// Mean cross-entropy and accuracy over the set, in batches (no graph; the mode is left as it is).
EvalResult evaluate_classifier(mamba::VisionMamba& model, const ImageSet& s, int64_t batch_size);

}  // namespace apps
