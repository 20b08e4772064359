// vision_data.cpp: image sets for the Vim programs.
#include "apps/common/vision_data.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "datasets/cifar.h"
#include "datasets/data_loader.h"
#include "datasets/data_paths.h"
#include "datasets/idx.h"
#include "datasets/image_folder.h"
#include "datasets/transforms.h"
#include "mamba/api.h"
#include "nn/safetensors.h"
#include "tensor/ops.h"

namespace fs = std::filesystem;

namespace apps {

namespace {

bool exists_any(const std::string& base) { return fs::exists(base) || fs::exists(base + ".gz"); }

std::string missing_hint(const std::string& spec) {
  return " (run `bash scripts/get-data.sh vision`" +
         std::string(spec == "cifar10" ? "; CIFAR-10 is not packaged: put cifar-10-batches-bin under data/" : "") + ")";
}

}  // namespace

std::shared_ptr<const datasets::ImageSource> open_image_data(const std::string& spec, bool train, int folder_channels,
                                                             const std::string& flag) {
  const std::string split = train ? "train" : "t10k";
  try {
    if (spec == "mnist" || spec == "fashion-mnist") {
      const std::string dir = spec == "mnist" ? datasets::mnist_dir() : datasets::fashion_mnist_dir();
      if (!exists_any(dir + "/" + split + "-images-idx3-ubyte"))
        throw std::runtime_error(spec + " not found in " + dir + missing_hint(spec));
      if (spec == "mnist") return datasets::open_mnist(dir, train);
      return datasets::open_fashion_mnist(dir, train);
    }
    if (spec == "cifar10") {
      const std::string dir = datasets::data_path("cifar-10-batches-bin");
      if (!fs::is_directory(dir)) throw std::runtime_error("cifar10 not found in " + dir + missing_hint(spec));
      return datasets::open_cifar10(dir, train);
    }
    if (!fs::exists(spec))
      throw std::runtime_error("'" + spec + "' is neither mnist, fashion-mnist, cifar10 nor an existing path");
    if (fs::is_directory(spec) && exists_any(spec + "/" + split + "-images-idx3-ubyte")) {
      auto pick = [](const std::string& base) { return fs::exists(base) ? base : base + ".gz"; };
      return std::make_shared<datasets::IdxImages>(pick(spec + "/" + split + "-images-idx3-ubyte"),
                                                   pick(spec + "/" + split + "-labels-idx1-ubyte"));
    }
    if (fs::is_directory(spec)) {
      datasets::ImageFolderOptions o;
      o.channels = folder_channels;
      return std::make_shared<datasets::ImageFolder>(spec, o);
    }
    throw std::runtime_error("'" + spec + "' is a file; give a folder of IDX files or an ImageFolder root");
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    if (msg.rfind(flag, 0) == 0) throw;
    throw std::runtime_error(flag + " " + spec + ": " + msg);
  }
}

ImageSet load_image_set(const datasets::ImageSource& src, const mamba::VimConfig& cfg, int64_t limit, uint64_t seed,
                        const std::string& spec, const std::string& flag, tensor::Device device) {
  const int64_t n_all = src.size();
  if (n_all == 0) throw std::runtime_error(flag + " " + spec + ": no examples");
  const int64_t n = limit > 0 ? std::min(limit, n_all) : n_all;
  std::vector<int64_t> order = datasets::epoch_order(n_all, n < n_all, seed, 0);
  order.resize(n);
  const int64_t C = cfg.channels, S = cfg.img_size;
  datasets::ImageExample first = src.get(order[0]);
  if (first.image.size(0) != C)
    throw std::runtime_error(flag + " " + spec + ": " + std::to_string(first.image.size(0)) +
                             "-channel images, but the model takes " + std::to_string(C) + " channels");
  std::vector<float> mean(cfg.image_mean.begin(), cfg.image_mean.end()),
      stdv(cfg.image_std.begin(), cfg.image_std.end());
  datasets::Transform tf = datasets::vim_eval_transform(S, mean, stdv);
  ImageSet s;
  s.name = spec;
  s.num_classes = src.num_classes();
  s.images = tensor::Tensor::empty({n, C, S, S}, tensor::DType::Float32);
  s.labels = tensor::Tensor::empty({n}, tensor::DType::Int64);
  float* dst = s.images.data<float>();
  int64_t* lab = s.labels.data<int64_t>();
  datasets::Rng rng = datasets::Rng::for_example(seed, 0, 0);
  for (int64_t i = 0; i < n; ++i) {
    datasets::ImageExample ex = i == 0 ? first : src.get(order[i]);
    if (ex.image.size(0) != C)
      throw std::runtime_error(flag + " " + spec + ": example " + std::to_string(order[i]) + " has " +
                               std::to_string(ex.image.size(0)) + " channels, the model takes " + std::to_string(C));
    if (ex.label < 0 || ex.label >= cfg.num_classes)
      throw std::runtime_error(flag + " " + spec + ": label " + std::to_string(ex.label) + " of example " +
                               std::to_string(order[i]) + ", but the model has " + std::to_string(cfg.num_classes) +
                               " classes");
    tensor::Tensor img = tf(ex.image, rng).contiguous();
    std::copy(img.data<float>(), img.data<float>() + C * S * S, dst + i * C * S * S);
    lab[i] = ex.label;
  }
  if (device.is_cuda()) {
    s.images = s.images.to(device);
    s.labels = s.labels.to(device);
  }
  return s;
}

ImageSet load_image_data(const std::string& spec, bool train, const mamba::VimConfig& cfg, int64_t limit, uint64_t seed,
                         const std::string& flag, tensor::Device device) {
  const std::string ext = ".safetensors";
  if (spec.size() <= ext.size() || spec.compare(spec.size() - ext.size(), ext.size(), ext) != 0) {
    auto src = open_image_data(spec, train, static_cast<int>(cfg.channels), flag);
    return load_image_set(*src, cfg, limit, seed, spec, flag, device);
  }
  std::map<std::string, tensor::Tensor> t;
  try {
    t = nn::load_safetensors(spec);
  } catch (const std::exception& e) {
    throw std::runtime_error(flag + " " + spec + ": " + e.what());
  }
  if (!t.count("images") || !t.count("labels"))
    throw std::runtime_error(flag + " " + spec + ": needs tensors \"images\" [N, C, H, W] and \"labels\" [N]");
  tensor::Tensor images = t["images"], labels = t["labels"];
  if (images.dim() != 4 || labels.dim() != 1 || labels.size(0) != images.size(0) ||
      labels.dtype() != tensor::DType::Int64)
    throw std::runtime_error(flag + " " + spec + ": images must be [N, C, H, W] and labels int64 [N], got images " +
                             tensor::shape_str(images.shape()) + " and labels " + tensor::shape_str(labels.shape()));
  if (images.size(1) != cfg.channels)
    throw std::runtime_error(flag + " " + spec + ": " + std::to_string(images.size(1)) +
                             "-channel images, but the model takes " + std::to_string(cfg.channels) + " channels");
  if (images.size(2) != cfg.img_size || images.size(3) != cfg.img_size)
    throw std::runtime_error(flag + " " + spec + ": images are " + std::to_string(images.size(2)) + "x" +
                             std::to_string(images.size(3)) + ", the model takes " + std::to_string(cfg.img_size) +
                             "x" + std::to_string(cfg.img_size));
  const int64_t n = limit > 0 ? std::min(limit, images.size(0)) : images.size(0);
  ImageSet s;
  s.name = spec;
  if (images.dtype() == tensor::DType::UInt8) {
    std::vector<float> mean(cfg.image_mean.begin(), cfg.image_mean.end()),
        stdv(cfg.image_std.begin(), cfg.image_std.end());
    datasets::Transform tf = datasets::vim_eval_transform(cfg.img_size, mean, stdv);
    datasets::Rng rng = datasets::Rng::for_example(seed, 0, 0);
    s.images = tensor::Tensor::empty({n, cfg.channels, cfg.img_size, cfg.img_size}, tensor::DType::Float32);
    for (int64_t i = 0; i < n; ++i) s.images.select(0, i).copy_(tf(images.select(0, i), rng));
  } else {
    s.images = images.narrow(0, 0, n).to(tensor::DType::Float32).contiguous();
  }
  s.labels = labels.narrow(0, 0, n).contiguous();
  for (double v : s.labels.to_vector())
    if (v < 0 || v >= cfg.num_classes)
      throw std::runtime_error(flag + " " + spec + ": label " + std::to_string(static_cast<int64_t>(v)) +
                               ", but the model has " + std::to_string(cfg.num_classes) + " classes");
  s.num_classes = cfg.num_classes;
  if (device.is_cuda()) {
    s.images = s.images.to(device);
    s.labels = s.labels.to(device);
  }
  return s;
}

int64_t batches_per_epoch(const ImageSet& s, int64_t batch_size) { return std::max<int64_t>(1, s.size() / batch_size); }

void batch_for_step(const ImageSet& s, int64_t step, int64_t batch_size, uint64_t seed, tensor::Tensor& images,
                    tensor::Tensor& labels) {
  const int64_t n = s.size(), bpe = batches_per_epoch(s, batch_size), b = std::min(batch_size, n);
  const std::vector<int64_t> order = datasets::epoch_order(n, true, seed, static_cast<uint64_t>(step / bpe));
  const int64_t start = (step % bpe) * b;
  std::vector<int64_t> idx(order.begin() + start, order.begin() + start + b);
  tensor::Tensor it = tensor::from_vector<int64_t>(idx, {b});
  if (s.images.device().is_cuda()) it = it.to(s.images.device());
  images = tensor::index_select(s.images, 0, it);
  labels = tensor::index_select(s.labels, 0, it);
}

EvalResult evaluate_classifier(mamba::VisionMamba& model, const ImageSet& s, int64_t batch_size) {
  double loss_sum = 0;
  int64_t correct = 0, total = 0;
  for (int64_t start = 0; start < s.size(); start += batch_size) {
    const int64_t len = std::min(batch_size, s.size() - start);
    mamba::ClassificationResult r =
        mamba::classify(model, s.images.narrow(0, start, len), s.labels.narrow(0, start, len));
    loss_sum += r.loss * static_cast<double>(r.total);
    correct += r.correct;
    total += r.total;
  }
  EvalResult e;
  e.loss = total > 0 ? loss_sum / static_cast<double>(total) : 0;
  e.acc = total > 0 ? static_cast<double>(correct) / static_cast<double>(total) : 0;
  return e;
}

}  // namespace apps
