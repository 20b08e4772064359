// data_loader.h: DataLoader, batches from a source with seeded shuffling, drop_last and
// background workers. Workers take batch numbers in order, each makes whole batches (fetch,
// decode, transform, collate), and the loader hands them out in order through a bounded reorder
// queue (at most num_workers * prefetch batches made ahead of the consumer).
//
// Determinism: the epoch's order is a Fisher-Yates shuffle drawn from (seed, epoch), and example
// i's random draws come from Rng::for_example(seed, epoch, i); neither depends on which thread
// makes a batch, so the batches are the same for any worker count (0 included).
//
// One thread drives a loader (start_epoch, next); the workers are its own.
//
// Target device: with a CUDA target and a usable GPU, batches are collated into pinned host memory
// (tensor::cuda::pinned_empty) and copied to the GPU in next(), on the calling thread. With a CPU
// target, or when no GPU answers (tensor::cuda::available() is false), nothing is pinned and
// batches stay on the CPU.
//
//   LoaderOptions opt;
//   opt.batch_size = 64, opt.shuffle = true, opt.num_workers = 2;
//   auto loader = make_image_loader(mnist, compose({to_float()}), opt);
//   for (uint64_t epoch = 0; epoch < 10; ++epoch) {
//     loader->start_epoch(epoch);
//     ImageBatch b;
//     while (loader->next(b)) { ... }
//   }
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "datasets/collate.h"
#include "datasets/image_source.h"
#include "datasets/rng.h"
#include "datasets/text_sources.h"
#include "datasets/transforms.h"
#include "tensor/cuda/runtime.h"
#include "tensor/device.h"

namespace datasets {

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = false;
  bool drop_last = false;  // drop the last, smaller batch
  uint64_t seed = 0;
  int num_workers = 0;  // 0: batches are made in next() on the calling thread
  int prefetch = 2;     // batches each worker may have ready ahead of the consumer
  tensor::Device target = tensor::Device::cpu();
};

// The example order of an epoch: 0..n-1, shuffled from (seed, epoch) when shuffle is set.
std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, uint64_t epoch);

// Example: what get() returns; Batch: default-constructible, movable, with to_device(Device).
template <typename Example, typename Batch>
class DataLoader {
 public:
  using GetFn = std::function<Example(int64_t index, Rng& rng)>;
  using CollateFn = std::function<Batch(std::vector<Example>& examples, const std::vector<int64_t>& indices, bool pinned)>;

  DataLoader(int64_t size, GetFn get, CollateFn collate, LoaderOptions opt)
      : size_(size), get_(std::move(get)), collate_(std::move(collate)), opt_(opt) {
    if (size_ < 0) throw std::invalid_argument("DataLoader: negative size");
    if (opt_.batch_size < 1) throw std::invalid_argument("DataLoader: batch_size must be >= 1, got " + std::to_string(opt_.batch_size));
    if (opt_.num_workers < 0) throw std::invalid_argument("DataLoader: num_workers must be >= 0, got " + std::to_string(opt_.num_workers));
    if (opt_.prefetch < 1) throw std::invalid_argument("DataLoader: prefetch must be >= 1, got " + std::to_string(opt_.prefetch));
    pinned_ = opt_.target.is_cuda() && tensor::cuda::available();
  }
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;
  ~DataLoader() { stop_workers(); }

  int64_t size() const { return size_; }  // examples
  int64_t num_batches() const {
    return opt_.drop_last ? size_ / opt_.batch_size : (size_ + opt_.batch_size - 1) / opt_.batch_size;
  }
  const LoaderOptions& options() const { return opt_; }
  bool pinned() const { return pinned_; }
  uint64_t epoch() const { return epoch_; }

  // Starts (or restarts) epoch `epoch`: its order, and workers making its batches.
  void start_epoch(uint64_t epoch) {
    stop_workers();
    epoch_ = epoch;
    started_ = true;
    order_ = epoch_order(size_, opt_.shuffle, opt_.seed, epoch_);
    next_make_ = next_give_ = 0;
    done_.clear();
    stop_ = false;
    for (int w = 0; w < opt_.num_workers; ++w) workers_.emplace_back([this] { worker_loop(); });
  }

  // The next batch of the current epoch (epoch 0 when none was started); false at its end. A batch
  // that failed to load rethrows its error here, in order.
  bool next(Batch& out) {
    if (!started_) start_epoch(0);
    if (next_give_ >= num_batches()) return false;
    if (opt_.num_workers == 0) {
      out = make_batch(next_give_++);
    } else {
      Slot slot;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_.wait(lock, [&] { return done_.count(next_give_) != 0; });
        auto it = done_.find(next_give_);
        slot = std::move(it->second);
        done_.erase(it);
        ++next_give_;
      }
      room_.notify_all();
      if (slot.error) std::rethrow_exception(slot.error);
      out = std::move(slot.batch);
    }
    if (opt_.target.is_cuda() && pinned_) out.to_device(opt_.target);
    return true;
  }

 private:
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };

  Batch make_batch(int64_t b) const {
    const int64_t begin = b * opt_.batch_size, end = std::min(size_, begin + opt_.batch_size);
    std::vector<int64_t> indices(order_.begin() + begin, order_.begin() + end);
    std::vector<Example> examples;
    examples.reserve(indices.size());
    for (int64_t i : indices) {
      Rng rng = Rng::for_example(opt_.seed, epoch_, i);
      examples.push_back(get_(i, rng));
    }
    return collate_(examples, indices, pinned_);
  }

  void worker_loop() {
    const int64_t capacity = static_cast<int64_t>(opt_.num_workers) * opt_.prefetch, nb = num_batches();
    for (;;) {
      int64_t b;
      {
        std::unique_lock<std::mutex> lock(mu_);
        room_.wait(lock, [&] { return stop_ || next_make_ >= nb || next_make_ < next_give_ + capacity; });
        if (stop_ || next_make_ >= nb) return;
        b = next_make_++;
      }
      Slot slot;
      try {
        slot.batch = make_batch(b);
      } catch (...) {
        slot.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        done_[b] = std::move(slot);
      }
      ready_.notify_all();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    room_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int64_t size_;
  GetFn get_;
  CollateFn collate_;
  LoaderOptions opt_;
  bool pinned_ = false, started_ = false;
  uint64_t epoch_ = 0;
  std::vector<int64_t> order_;
  int64_t next_make_ = 0, next_give_ = 0;  // next batch a worker starts / the consumer receives
  std::map<int64_t, Slot> done_;           // finished batches waiting for their turn
  bool stop_ = false;
  std::mutex mu_;
  std::condition_variable ready_, room_;
  std::vector<std::thread> workers_;
};

using ImageLoader = DataLoader<ImageExample, ImageBatch>;
using TextLoader = DataLoader<TextExample, TextBatch>;

// Images from `source`, each passed through `transform` (may be empty) with its example's Rng.
std::unique_ptr<ImageLoader> make_image_loader(std::shared_ptr<const ImageSource> source, Transform transform, LoaderOptions opt);
// Token sequences from `source`, padded and masked by collate_text.
std::unique_ptr<TextLoader> make_text_loader(std::shared_ptr<const TextSource> source, TextCollateOptions collate, LoaderOptions opt);

}  // namespace datasets
