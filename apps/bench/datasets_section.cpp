// datasets_section.cpp: the `datasets` section of bench: DataLoader throughput in images/s with 0
// and 2 background workers, for MNIST-style IDX images (in memory: augmentation only) and for PNG
// files (decode + augmentation, Vim-sized crops), and the GPT-2 tokenizer's MB/s when installed.
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "datasets/bpe_tokenizer.h"
#include "datasets/data_loader.h"
#include "datasets/data_paths.h"
#include "datasets/file_io.h"
#include "datasets/idx.h"
#include "datasets/image_decode.h"
#include "datasets/image_folder.h"
#include "section.h"
#include "tensor/ops.h"

namespace bench {
namespace {

// n grey 28x28 images with a moving blob, for machines without MNIST.
class SyntheticDigits : public datasets::ImageSource {
 public:
  explicit SyntheticDigits(int64_t n) : n_(n), names_{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"} {}
  int64_t size() const override { return n_; }
  datasets::ImageExample get(int64_t i) const override {
    tensor::Tensor t = tensor::Tensor::empty({1, 28, 28}, tensor::DType::UInt8);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const double d = std::hypot(x - 8 - (i % 12), y - 14);
        t.data<uint8_t>()[y * 28 + x] = static_cast<uint8_t>(d < 6 ? 255 - 30 * d : 0);
      }
    return {t, i % 10};
  }
  const std::vector<std::string>& class_names() const override { return names_; }

 private:
  int64_t n_;
  std::vector<std::string> names_;
};

// Writes n RGB 256x256 PNGs (smooth gradients plus noise, so they do not compress to nothing)
// into dir/<class>/.
void write_pngs(const std::string& dir, int n) {
  tensor::Generator gen(7);
  for (int i = 0; i < n; ++i) {
    tensor::Tensor noise = tensor::rand({3, 256, 256}, tensor::DType::Float32, &gen);
    tensor::Tensor img = tensor::Tensor::empty({3, 256, 256}, tensor::DType::UInt8);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 256; ++y)
        for (int x = 0; x < 256; ++x) {
          const int k = (c * 256 + y) * 256 + x;
          img.data<uint8_t>()[k] = static_cast<uint8_t>((x * (c + 1) + y * (3 - c) + i * 5) % 200 + 40 * noise.data<float>()[k]);
        }
    datasets::write_file_atomic(dir + "/class" + std::to_string(i % 4) + "/img" + std::to_string(i) + ".png", datasets::encode_png(img));
  }
}

// Images per second over one epoch of the loader (best of opt.repeats after opt.warmup epochs).
double images_per_second(const Options& opt, datasets::ImageLoader& loader) {
  uint64_t epoch = 0;
  const double secs = best_seconds(opt, [&] {
    loader.start_epoch(epoch++);
    datasets::ImageBatch b;
    while (loader.next(b)) {
    }
  });
  return static_cast<double>(loader.num_batches() * loader.options().batch_size) / secs;
}

}  // namespace

Json datasets_section(const Options& opt) {
  std::printf("datasets: DataLoader images/s (decode + augment on the loader's workers), best of %d epochs after %d warm-up\n\n",
              opt.repeats, opt.warmup);
  Table table({"pipeline", "examples", "0 workers img/s", "2 workers img/s", "speed-up"});
  Json out;

  // IDX images already in memory: random crop with padding, flip, to float, normalize.
  std::shared_ptr<const datasets::ImageSource> digits;
  std::string digits_name = "MNIST train (IDX)";
  if (datasets::path_exists(datasets::mnist_dir())) {
    digits = datasets::open_mnist(datasets::mnist_dir(), true);
  } else {
    digits = std::make_shared<SyntheticDigits>(20000);
    digits_name = "synthetic 28x28 (no MNIST installed)";
  }
  const datasets::Transform digit_aug = datasets::compose({datasets::random_crop(28, 28, 2), datasets::horizontal_flip(),
                                                            datasets::to_float(), datasets::normalize({0.1307f}, {0.3081f})});
  // PNG files: decode, then the Vim training crop (random resized crop to 224), flip, normalize.
  const std::string dir = (std::filesystem::temp_directory_path() / "pm_bench_pngs_XXXXXX").string();
  std::string tmpl = dir;
  if (!mkdtemp(&tmpl[0])) throw std::runtime_error("datasets bench: mkdtemp failed");
  std::fprintf(stderr, "datasets: writing 256 PNGs (256x256 RGB) to %s ...\n", tmpl.c_str());
  write_pngs(tmpl, 256);
  auto pngs = std::make_shared<datasets::ImageFolder>(tmpl);
  const datasets::Transform png_aug =
      datasets::compose({datasets::random_resized_crop(224, 224), datasets::horizontal_flip(), datasets::to_float(),
                         datasets::normalize({0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f})});

  struct Case {
    std::string key, label;
    std::shared_ptr<const datasets::ImageSource> src;
    datasets::Transform tr;
    int64_t batch;
  };
  const std::vector<Case> cases = {{"idx_augment", digits_name + ": crop+flip+normalize", digits, digit_aug, 256},
                                   {"png_decode_augment", "PNG 256x256 RGB: decode+random resized crop 224+flip+normalize", pngs, png_aug, 32}};
  for (const auto& c : cases) {
    double rate[2];
    for (int w = 0; w < 2; ++w) {
      datasets::LoaderOptions lo;
      lo.batch_size = c.batch, lo.shuffle = true, lo.drop_last = true, lo.seed = 1, lo.num_workers = w == 0 ? 0 : 2;
      auto loader = datasets::make_image_loader(c.src, c.tr, lo);
      std::fprintf(stderr, "datasets: %s, %d workers ...\n", c.key.c_str(), lo.num_workers);
      rate[w] = images_per_second(opt, *loader);
    }
    table.add({c.label, std::to_string(c.src->size()), fixed(rate[0], 0), fixed(rate[1], 0), fixed(rate[1] / rate[0], 2)});
    Json j;
    j.num("examples", static_cast<double>(c.src->size())).num("images_per_s_0_workers", rate[0]).num("images_per_s_2_workers", rate[1]);
    out.obj(c.key, j);
  }
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
  table.print();

  // The GPT-2 tokenizer on Moby-Dick, when both are installed.
  if (datasets::path_exists(datasets::gpt2_tokenizer_json()) && datasets::path_exists(datasets::moby_dick_txt())) {
    auto tok = datasets::BpeTokenizer::from_file(datasets::gpt2_tokenizer_json());
    const std::string text = datasets::read_file(datasets::moby_dick_txt());
    size_t n = 0;
    const double secs = best_seconds(opt, [&] { n = tok->encode(text).size(); });
    const double mbs = static_cast<double>(text.size()) / secs * 1e-6;
    std::printf("\nGPT-2 BPE encode, Moby-Dick (%zu bytes -> %zu tokens): %.1f MB/s, %.0f ktokens/s (one thread, warm word cache)\n",
                text.size(), n, mbs, static_cast<double>(n) / secs * 1e-3);
    out.num("gpt2_encode_mb_per_s", mbs);
  } else {
    std::printf("\nGPT-2 BPE encode: skipped (run scripts/get-data.sh tokenizers text)\n");
    out.null("gpt2_encode_mb_per_s");
  }
  std::printf("\n");
  return out;
}

}  // namespace bench
