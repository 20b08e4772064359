// cuda_memory_section.cpp: the `cuda_memory` section of bench: memory-bound GPU ops in GB/s, each
// beside the device's own copy bandwidth (cudaMemcpy device -> device of 256 MiB, counting read +
// write) and as a percentage of it. Ops: elementwise add of two 256 MiB float32 tensors (read 2,
// write 1), row and column sums and the full sum of a 256 MiB [8192, 8192] float32 matrix (read 1),
// softmax and its backward on (8192, 50280) float32 (read 1 + write 1; read 2 + write 1).
// GPU time from CUDA events around each call on the backend's stream, best of N after a warm-up.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "gpu_timer.h"
#include "section.h"
#include "tensor/cuda/runtime.h"
#include "tensor/ops.h"

#if defined(PM_HAVE_CUDA)
#include <cuda_runtime.h>
#endif

namespace bench {

#if defined(PM_HAVE_CUDA)
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("cuda_memory: ") + what + ": " + cudaGetErrorString(e));
}

}  // namespace
#endif

Json cuda_memory_section(const Options& opt) {
#if !defined(PM_HAVE_CUDA)
  (void)opt;
  std::printf("cuda_memory: skipped (this build has no CUDA backend)\n\n");
  return Json().str("skipped", "built without CUDA");
#else
  if (!tensor::cuda::available()) {
    std::printf("cuda_memory: skipped (no CUDA GPU on this machine)\n\n");
    return Json().str("skipped", "no CUDA GPU");
  }
  using tensor::Device;
  using tensor::DType;
  using tensor::Tensor;
  cudaDeviceProp prop{};
  int dev = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
  std::printf("cuda_memory: %s, %d SMs; float32; GPU time by CUDA events, best of %d after %d warm-up\n", prop.name,
              prop.multiProcessorCount, opt.repeats, opt.warmup);
  std::printf("GB/s counts bytes read + written once each (1 GB = 1e9 bytes); %% of copy = GB/s / copy GB/s\n\n");

  tensor::Generator gen(42);
  const int64_t mib256 = 256LL << 20, n = mib256 / 4;  // 256 MiB of float32
  const Device gpu = Device::cuda();

  // the reference: a device-to-device copy of 256 MiB
  const Tensor src = tensor::rand({n}, DType::Float32, &gen, 0, 1, gpu);
  const Tensor dst = Tensor::empty({n}, DType::Float32, gpu);
  std::fprintf(stderr, "cuda_memory: copy ...\n");
  const double copy_s = best_gpu_seconds(opt, [&] {
    check(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), static_cast<size_t>(mib256), cudaMemcpyDeviceToDevice, 0),
          "cudaMemcpyAsync");
  });
  const double copy_gbs = 2.0 * static_cast<double>(mib256) / copy_s * 1e-9;

  Table table({"op", "shape", "ms", "GB/s", "% of copy"});
  Json results;
  auto add_row = [&](const std::string& key, const std::string& op, const std::string& shape, double bytes, double secs) {
    const double gbs = bytes / secs * 1e-9;
    table.add({op, shape, fixed(secs * 1e3, 3), fixed(gbs, 1), fixed(100.0 * gbs / copy_gbs, 1)});
    results.obj(key, Json().num("ms", secs * 1e3).num("gb_per_s", gbs).num("pct_of_copy", 100.0 * gbs / copy_gbs));
  };
  add_row("copy", "cudaMemcpy D2D", "256 MiB", 2.0 * static_cast<double>(mib256), copy_s);

  {
    const Tensor b = tensor::rand({n}, DType::Float32, &gen, 0, 1, gpu);
    std::fprintf(stderr, "cuda_memory: add ...\n");
    const double s = best_gpu_seconds(opt, [&] { tensor::add(src, b); });
    add_row("add", "add (a + b)", "[67108864] x 2", 3.0 * static_cast<double>(mib256), s);
  }
  {
    const Tensor x = src.view({8192, 8192});
    std::fprintf(stderr, "cuda_memory: sums ...\n");
    const double rows = best_gpu_seconds(opt, [&] { tensor::sum(x, {1}); });
    add_row("sum_rows", "sum dim 1", "[8192, 8192]", static_cast<double>(mib256) + 8192.0 * 4, rows);
    const double cols = best_gpu_seconds(opt, [&] { tensor::sum(x, {0}); });
    add_row("sum_columns", "sum dim 0", "[8192, 8192]", static_cast<double>(mib256) + 8192.0 * 4, cols);
    const double all = best_gpu_seconds(opt, [&] { tensor::sum(x); });
    add_row("sum_all", "sum all", "[8192, 8192]", static_cast<double>(mib256), all);
  }
  {
    const int64_t rows = 8192, vocab = 50280;
    const double bytes = static_cast<double>(rows) * static_cast<double>(vocab) * 4.0;
    const Tensor x = tensor::randn({rows, vocab}, DType::Float32, &gen, 0, 2, gpu);
    std::fprintf(stderr, "cuda_memory: softmax ...\n");
    const double fwd = best_gpu_seconds(opt, [&] { tensor::softmax(x, -1); });
    add_row("softmax", "softmax dim -1", "[8192, 50280]", 2.0 * bytes, fwd);
    const Tensor y = tensor::softmax(x, -1);
    const Tensor g = tensor::randn({rows, vocab}, DType::Float32, &gen, 0, 1, gpu);
    const double bwd = best_gpu_seconds(opt, [&] { tensor::softmax_backward(g, y, -1); });
    add_row("softmax_backward", "softmax backward", "[8192, 50280]", 3.0 * bytes, bwd);
    const double lfwd = best_gpu_seconds(opt, [&] { tensor::log_softmax(x, -1); });
    add_row("log_softmax", "log_softmax dim -1", "[8192, 50280]", 2.0 * bytes, lfwd);
  }
  table.print();
  std::printf("\n");
  return Json().str("device", prop.name).num("copy_gb_per_s", copy_gbs).obj("ops", results);
#endif
}

}  // namespace bench
