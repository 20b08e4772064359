// data_loader_test.cpp: batching, drop_last, seeded shuffling, identical batches for any worker
// count, the bounded prefetch queue, errors from workers, text padding masks and CPU targets.
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "datasets/data_loader.h"
#include "tensor/cuda/copy.h"
#include "datasets/idx.h"
#include "datasets/image_folder.h"
#include "datasets_test_util.h"

using namespace datasets;
using pm_test::fixture;
using pm_test::throws_with;

namespace {

// A source of n 1x2x2 images whose pixels encode the index.
class CountingImages : public ImageSource {
 public:
  explicit CountingImages(int64_t n) : n_(n), names_{"even", "odd"} {}
  int64_t size() const override { return n_; }
  ImageExample get(int64_t i) const override {
    check_index("CountingImages", i, n_);
    ++calls;
    tensor::Tensor t = tensor::full({1, 2, 2}, static_cast<double>(i % 256), tensor::DType::UInt8);
    return {t, i % 2};
  }
  const std::vector<std::string>& class_names() const override { return names_; }
  mutable std::atomic<int64_t> calls{0};

 private:
  int64_t n_;
  std::vector<std::string> names_;
};

std::vector<std::vector<int64_t>> epoch_indices(ImageLoader& l, uint64_t epoch) {
  l.start_epoch(epoch);
  std::vector<std::vector<int64_t>> out;
  ImageBatch b;
  while (l.next(b)) out.push_back(b.indices);
  return out;
}

LoaderOptions opts(int64_t bs, bool shuffle, int workers, uint64_t seed = 0, bool drop_last = false) {
  LoaderOptions o;
  o.batch_size = bs;
  o.shuffle = shuffle;
  o.num_workers = workers;
  o.seed = seed;
  o.drop_last = drop_last;
  return o;
}

}  // namespace

TEST(DataLoader, BatchesCoverEveryExampleOnce) {
  auto src = std::make_shared<CountingImages>(10);
  auto l = make_image_loader(src, {}, opts(4, false, 0));
  EXPECT_EQ(l->num_batches(), 3);
  ImageBatch b;
  std::vector<int64_t> seen;
  int batches = 0;
  while (l->next(b)) {
    ++batches;
    EXPECT_EQ(b.images.dim(), 4);
    EXPECT_EQ(b.images.size(0), static_cast<int64_t>(b.indices.size()));
    for (size_t k = 0; k < b.indices.size(); ++k) {
      EXPECT_EQ(b.images.at({static_cast<int64_t>(k), 0, 1, 1}), b.indices[k]);
      EXPECT_EQ(b.labels.at({static_cast<int64_t>(k)}), b.indices[k] % 2);
      seen.push_back(b.indices[k]);
    }
  }
  EXPECT_EQ(batches, 3);
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_FALSE(l->next(b));  // stays at the end until the next epoch starts
  auto dl = make_image_loader(src, {}, opts(4, false, 0, 0, true));
  EXPECT_EQ(dl->num_batches(), 2);
  EXPECT_EQ(epoch_indices(*dl, 0).back(), (std::vector<int64_t>{4, 5, 6, 7}));
}

TEST(DataLoader, ShuffleIsSeededAndTheSameForAnyWorkerCount) {
  auto src = std::make_shared<CountingImages>(37);
  auto ref = make_image_loader(src, {}, opts(5, true, 0, 123));
  const auto e0 = epoch_indices(*ref, 0), e1 = epoch_indices(*ref, 1);
  EXPECT_NE(e0, e1);
  std::vector<int64_t> flat;
  for (const auto& b : e0) flat.insert(flat.end(), b.begin(), b.end());
  EXPECT_EQ(std::set<int64_t>(flat.begin(), flat.end()).size(), 37u);
  EXPECT_NE(flat, epoch_order(37, false, 0, 0));
  for (int workers : {1, 2, 3, 8}) {
    auto l = make_image_loader(src, {}, opts(5, true, workers, 123));
    EXPECT_EQ(epoch_indices(*l, 0), e0) << workers << " workers";
    EXPECT_EQ(epoch_indices(*l, 1), e1) << workers << " workers";
  }
  auto other = make_image_loader(src, {}, opts(5, true, 0, 124));
  EXPECT_NE(epoch_indices(*other, 0), e0);
  EXPECT_EQ(epoch_order(37, true, 123, 0), flat);
}

TEST(DataLoader, AugmentationIsDeterministicAcrossWorkers) {
  auto mnist = std::make_shared<IdxImages>(fixture("mnist-8-images-idx3-ubyte"), fixture("mnist-8-labels-idx1-ubyte"));
  Transform aug = compose({random_crop(24, 24, 2), horizontal_flip(), to_float(), normalize({0.1307f}, {0.3081f})});
  auto run = [&](int workers) {
    auto l = make_image_loader(mnist, aug, opts(3, true, workers, 9));
    std::vector<tensor::Tensor> out;
    for (uint64_t e = 0; e < 2; ++e) {
      l->start_epoch(e);
      ImageBatch b;
      while (l->next(b)) out.push_back(b.images);
    }
    return out;
  };
  const auto a = run(0), b = run(2), c = run(3);
  ASSERT_EQ(a.size(), 6u);
  EXPECT_EQ(a[0].shape(), (tensor::Shape{3, 1, 24, 24}));
  EXPECT_EQ(a[0].dtype(), tensor::DType::Float32);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(pm_test::tensors_close(a[i], b[i], 0, 0)) << i;
    EXPECT_TRUE(pm_test::tensors_close(a[i], c[i], 0, 0)) << i;
  }
  EXPECT_FALSE(pm_test::tensors_close(a[0], a[3], 0, 0));  // another epoch, other crops
}

TEST(DataLoader, PrefetchQueueIsBounded) {
  auto src = std::make_shared<CountingImages>(100);
  LoaderOptions o = opts(2, false, 2);
  o.prefetch = 3;
  auto l = make_image_loader(src, {}, o);
  ImageBatch b;
  ASSERT_TRUE(l->next(b));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // One batch handed out, at most 2 workers x 3 batches made ahead: 7 batches of 2 examples.
  EXPECT_LE(src->calls.load(), 14);
  EXPECT_GE(src->calls.load(), 4);
  int n = 1;
  while (l->next(b)) ++n;
  EXPECT_EQ(n, 50);
  EXPECT_EQ(src->calls.load(), 100);
  // Restarting mid-epoch and destroying with workers blocked both end cleanly.
  l->start_epoch(1);
  ASSERT_TRUE(l->next(b));
  l.reset();
}

TEST(DataLoader, WorkerErrorsReachTheConsumerInOrder) {
  pm_test::TempDir dir;
  const std::string png = datasets::read_file(fixture("images/python.png"));
  pm_test::write_text(dir / "a/1.png", png);
  pm_test::write_text(dir / "a/2.png", png);
  pm_test::write_text(dir / "a/3.png", "broken");
  pm_test::write_text(dir / "a/4.png", png);
  auto folder = std::make_shared<ImageFolder>(dir.path());
  for (int workers : {0, 2}) {
    auto l = make_image_loader(folder, {}, opts(1, false, workers));
    ImageBatch b;
    EXPECT_TRUE(l->next(b));
    EXPECT_TRUE(l->next(b));
    EXPECT_TRUE(throws_with([&] { l->next(b); }, {dir / "a/3.png", "cannot decode image"})) << workers;
    EXPECT_TRUE(l->next(b));
    EXPECT_EQ(b.indices, (std::vector<int64_t>{3}));
  }
  auto mixed = std::make_shared<ImageFolder>(fixture("image_folder"), ImageFolderOptions{1});
  auto bad = make_image_loader(mixed, resize_shorter(20), opts(9, false, 0));  // 28x28 -> 20x20 all: fine
  ImageBatch b;
  EXPECT_TRUE(bad->next(b));
  EXPECT_EQ(b.images.shape(), (tensor::Shape{9, 1, 20, 20}));
  std::vector<ImageExample> ex = {{tensor::zeros({1, 2, 2}, tensor::DType::UInt8), 0}, {tensor::zeros({1, 3, 2}, tensor::DType::UInt8), 0}};
  EXPECT_TRUE(throws_with([&] { collate_images(ex, {4, 7}); }, {"collate_images", "example 1 (index 7)", "[1, 3, 2]", "[1, 2, 2]"}));
}

TEST(DataLoader, OptionErrors) {
  auto src = std::make_shared<CountingImages>(3);
  EXPECT_TRUE(throws_with([&] { make_image_loader(src, {}, opts(0, false, 0)); }, {"DataLoader", "batch_size must be >= 1"}));
  EXPECT_TRUE(throws_with([&] { make_image_loader(src, {}, opts(1, false, -1)); }, {"DataLoader", "num_workers must be >= 0"}));
  EXPECT_TRUE(throws_with([&] { make_image_loader(nullptr, {}, opts(1, false, 0)); }, {"make_image_loader: no source"}));
}

TEST(DataLoader, CudaTargetWithoutGpuStaysOnCpu) {
  auto src = std::make_shared<CountingImages>(4);
  LoaderOptions o = opts(2, false, 1);
  o.target = tensor::Device::cuda(0);
  auto l = make_image_loader(src, {}, o);
  EXPECT_EQ(l->pinned(), tensor::cuda::available());
  ImageBatch b;
  ASSERT_TRUE(l->next(b));
  if (!tensor::cuda::available()) {
    EXPECT_TRUE(b.images.device().is_cpu());
    return;
  }
  // On a GPU: staged in pinned memory, copied to the device, the same values as a CPU loader's.
  EXPECT_TRUE(b.images.device().is_cuda());
  EXPECT_TRUE(b.labels.device().is_cuda());
  auto cpu = make_image_loader(src, {}, opts(2, false, 0));
  ImageBatch c;
  ASSERT_TRUE(cpu->next(c));
  EXPECT_TRUE(pm_test::tensors_close(b.images.to(tensor::Device::cpu()), c.images, 0, 0));
  EXPECT_TRUE(pm_test::tensors_close(b.labels.to(tensor::Device::cpu()), c.labels, 0, 0));
  std::vector<ImageExample> ex = {src->get(0)};
  EXPECT_TRUE(tensor::cuda::is_pinned(collate_images(ex, {0}, true).images));
}

TEST(TextLoader, PaddingMasksAndShiftedTargets) {
  class Texts : public TextSource {
   public:
    int64_t size() const override { return 3; }
    TextExample get(int64_t i, Rng&) const override {
      TextExample e;
      for (int64_t k = 0; k < 3 + 2 * i; ++k) e.ids.push_back(10 * (i + 1) + k);
      e.loss_mask.assign(e.ids.size(), 1);
      e.loss_mask[0] = 0;
      if (i == 1) e.loss_mask[1] = 0;  // a prompt of two tokens
      e.label = 100 + i;
      return e;
    }
  };
  TextCollateOptions c;
  c.pad_id = 7;
  auto l = make_text_loader(std::make_shared<Texts>(), c, opts(3, false, 0));
  TextBatch b;
  ASSERT_TRUE(l->next(b));
  // Lengths 3, 5, 7 -> inputs of 2, 4, 6 tokens, padded to 6.
  EXPECT_EQ(b.input_ids.shape(), (tensor::Shape{3, 6}));
  EXPECT_EQ(b.input_ids.select(0, 0).to_vector(), (std::vector<double>{10, 11, 7, 7, 7, 7}));
  EXPECT_EQ(b.targets.select(0, 0).to_vector(), (std::vector<double>{11, 12, -100, -100, -100, -100}));
  EXPECT_EQ(b.attention_mask.select(0, 0).to_vector(), (std::vector<double>{1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(b.targets.select(0, 1).to_vector(), (std::vector<double>{-100, 22, 23, 24, -100, -100}));
  EXPECT_EQ(b.loss_mask.select(0, 1).to_vector(), (std::vector<double>{0, 1, 1, 1, 0, 0}));
  EXPECT_EQ(b.lengths.to_vector(), (std::vector<double>{2, 4, 6}));
  EXPECT_EQ(b.labels.to_vector(), (std::vector<double>{100, 101, 102}));
  c.shift = false;
  auto u = make_text_loader(std::make_shared<Texts>(), c, opts(2, false, 1));
  ASSERT_TRUE(u->next(b));
  EXPECT_EQ(b.input_ids.shape(), (tensor::Shape{2, 5}));
  EXPECT_EQ(b.loss_mask.select(0, 1).to_vector(), (std::vector<double>{0, 0, 1, 1, 1}));
  std::vector<TextExample> bad(1);
  bad[0].ids = {1, 2};
  EXPECT_TRUE(throws_with([&] { collate_text(bad, {0}); }, {"collate_text", "2 ids but 0 loss-mask entries"}));
}
