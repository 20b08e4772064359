// cuda_matmul_section.cpp: the `cuda_matmul` section of bench: the GPU's compute- and
// bandwidth-bound headline numbers.
//   - matmul 4096 x 4096 x 4096 float32 in TFLOP/s through tensor::matmul, beside a direct
//     cublasSgemm on preallocated buffers (cuBLAS's own number), in full FP32 and with TF32;
//   - softmax cross-entropy forward + backward on (8192, 50280) float32 logits in GB/s, counting
//     each byte once: the forward reads the logits (the backward's second read of a row comes
//     from L2 and is not counted), the backward reads the logits and writes the gradient;
//   - the device's copy bandwidth (cudaMemcpy device -> device of 1 GiB, read + write) as the
//     reference, each GB/s also given as a percentage of it.
// GPU time from CUDA events around each call on the default stream, best of N after a warm-up.
// Without a GPU (or without CUDA in the build) it prints "skipped: no GPU".
#include <cstdio>
#include <stdexcept>
#include <string>

#include "gpu_timer.h"
#include "section.h"
#include "tensor/cuda/runtime.h"
#include "tensor/ops.h"

#if defined(PM_HAVE_CUDA)
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "tensor/cuda/cublas_handle.h"
#include "tensor/cuda/cuda_check.h"
#endif

namespace bench {

#if defined(PM_HAVE_CUDA)
namespace {

std::string pct(double part, double whole) { return fixed(100.0 * part / whole, 1) + "%"; }

}  // namespace
#endif

Json cuda_matmul_section(const Options& opt) {
  if (!tensor::cuda::available()) {
    std::printf("cuda_matmul: skipped: no GPU (%s)\n\n",
                tensor::cuda::built_with_cuda() ? "no CUDA device answers" : "this build has no CUDA backend");
    return Json().str("skipped", "no GPU");
  }
#if !defined(PM_HAVE_CUDA)
  (void)opt;
  return Json().str("skipped", "no GPU");  // not reached: available() is false in a build without CUDA
#else
  using tensor::Device;
  using tensor::DType;
  using tensor::Tensor;
  const Device gpu = Device::cuda();
  cudaDeviceProp prop{};
  int dev = 0;
  PM_CUDA_CHECK(cudaGetDevice(&dev));
  PM_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  std::printf("cuda_matmul: %s, %d SMs; GPU time by CUDA events, best of %d after %d warm-up\n", prop.name,
              prop.multiProcessorCount, opt.repeats, opt.warmup);
  std::printf("GB/s counts bytes read + written once each (1 GB = 1e9 bytes); %% of copy = GB/s / copy GB/s\n\n");
  tensor::Generator gen(7);
  Json out;
  out.str("device", prop.name);

  // ---- the reference: device-to-device copy of 1 GiB ---------------------------------------------
  double copy_gbs = 0;
  {
    const size_t bytes = size_t(1) << 30;
    const Tensor src = Tensor::empty({static_cast<int64_t>(bytes / 4)}, DType::Float32, gpu);
    const Tensor dst = Tensor::empty({static_cast<int64_t>(bytes / 4)}, DType::Float32, gpu);
    PM_CUDA_CHECK(cudaMemset(src.raw_data(), 0, bytes));
    const double s = best_gpu_seconds(opt, [&] {
      PM_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), bytes, cudaMemcpyDeviceToDevice, 0));
    });
    copy_gbs = 2.0 * static_cast<double>(bytes) / s * 1e-9;
  }
  out.num("copy_gbs", copy_gbs);

  // ---- matmul 4096^3 float32 ----------------------------------------------------------------------
  const int n = 4096;
  const double flop = 2.0 * n * static_cast<double>(n) * n;
  Table mm({"matmul 4096^3 float32", "tensor::matmul TFLOP/s", "cublasSgemm TFLOP/s", "ratio"});
  Json mm_json;
  {
    const Tensor a = tensor::randn({n, n}, DType::Float32, &gen, 0, 1, gpu);
    const Tensor b = tensor::randn({n, n}, DType::Float32, &gen, 0, 1, gpu);
    const Tensor c = Tensor::empty({n, n}, DType::Float32, gpu);
    const bool tf32_before = tensor::cuda::allow_tf32();
    cublasHandle_t h = tensor::cuda::cublas_handle();
    for (const bool tf32 : {false, true}) {
      tensor::cuda::set_allow_tf32(tf32);
      const double ours = flop / best_gpu_seconds(opt, [&] { tensor::matmul(a, b); }) * 1e-12;
      const float one = 1.0f, zero = 0.0f;
      const double theirs = flop / best_gpu_seconds(opt, [&] {
                              // row-major C = A B is column-major C^T = B^T A^T: B first
                              PM_CUBLAS_CHECK(cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
                              PM_CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, b.data<float>(), n,
                                                          a.data<float>(), n, &zero, c.data<float>(), n));
                            }) * 1e-12;
      const char* mode = tf32 ? "tf32" : "fp32";
      mm.add({mode, fixed(ours, 1), fixed(theirs, 1), fixed(ours / theirs, 3)});
      mm_json.obj(mode, Json().num("tensor_tflops", ours).num("cublas_tflops", theirs).num("ratio", ours / theirs));
    }
    tensor::cuda::set_allow_tf32(tf32_before);
  }
  mm.print();
  std::printf("\n");
  out.obj("matmul_4096", mm_json);

  // ---- softmax cross-entropy (8192, 50280) float32 ------------------------------------------------
  const int64_t N = 8192, C = 50280;
  const double lbytes = static_cast<double>(N) * C * 4;
  Table ce({"cross_entropy (8192, 50280) float32", "ms", "GB/s", "% of copy"});
  Json ce_json;
  {
    const Tensor logits = tensor::randn({N, C}, DType::Float32, &gen, 0, 2, gpu);
    const Tensor target = tensor::randint(0, C, {N}, &gen, gpu);
    const Tensor g = tensor::ones({}, DType::Float32, gpu);
    // The training path (autograd): the forward leaves each row's log-sum-exp, the backward reads the
    // logits once. "recomputing" is the backward without it (two reads of each row, the second from L2).
    Tensor lse;
    const double fwd = best_gpu_seconds(opt, [&] { tensor::cross_entropy(logits, target, {}, &lse); });
    const double bwd = best_gpu_seconds(opt, [&] { tensor::cross_entropy_backward(g, logits, target, {}, lse); });
    const double bwd_re = best_gpu_seconds(opt, [&] { tensor::cross_entropy_backward(g, logits, target); });
    const double both = best_gpu_seconds(opt, [&] {
      tensor::cross_entropy(logits, target, {}, &lse);
      tensor::cross_entropy_backward(g, logits, target, {}, lse);
    });
    struct Row {
      const char* name;
      double secs, bytes;
    };
    for (const Row& r : {Row{"forward (read logits)", fwd, lbytes}, Row{"backward (read logits, write grad)", bwd, 2 * lbytes},
                         Row{"backward, recomputing the row lse", bwd_re, 2 * lbytes},
                         Row{"forward + backward", both, 3 * lbytes}}) {
      const double gbs = r.bytes / r.secs * 1e-9;
      ce.add({r.name, fixed(r.secs * 1e3, 3), fixed(gbs, 0), pct(gbs, copy_gbs)});
    }
    ce_json.num("forward_gbs", lbytes / fwd * 1e-9)
        .num("backward_gbs", 2 * lbytes / bwd * 1e-9)
        .num("backward_recompute_gbs", 2 * lbytes / bwd_re * 1e-9)
        .num("fwd_bwd_gbs", 3 * lbytes / both * 1e-9)
        .num("fwd_bwd_pct_of_copy", 100.0 * 3 * lbytes / both * 1e-9 / copy_gbs);
  }
  ce.add({"device copy (1 GiB, read + write)", "", fixed(copy_gbs, 0), "100.0%"});
  ce.print();
  std::printf("\n");
  out.obj("cross_entropy_8192x50280", ce_json);
  return out;
#endif
}

}  // namespace bench
