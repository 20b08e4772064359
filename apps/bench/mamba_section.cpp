// mamba_section.cpp: bench's Mamba numbers. The `mamba_scan` section times the CUDA selective scan
// forward + backward (z gate, D, delta_bias, softplus; the mixer's channels-adjacent layout) at the
// two shapes the issue quotes mamba_ssm at (0.55 ms and 3.36 ms on an H100), beside the
// memory-traffic floor: the bytes the two kernels must move (forward reads u, delta, z, B, C and
// writes out; backward reads u, delta, z, the upstream gradient, B, C and writes du, ddelta, dz, dB,
// dC) over the measured device-to-device copy bandwidth. `bench lm-train ...` (lm_train_main) times
// whole MambaLM training steps (forward, backward, AdamW) and prints one JSON line.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "mamba/config.h"
#include "mamba/lm.h"
#include "mamba/ops/selective_scan.h"
#include "nn/optim/adamw.h"
#include "gpu_timer.h"
#include "section.h"
#include "tensor/cuda/runtime.h"
#include "tensor/ops.h"

#if defined(PM_HAVE_CUDA)
#include <cuda_runtime.h>
#endif

namespace bench {

namespace {

using tensor::DType;
using tensor::Tensor;

#if defined(PM_HAVE_CUDA)
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("mamba_scan: ") + what + ": " + cudaGetErrorString(e));
}
#endif

}  // namespace

Json mamba_scan_section(const Options& opt) {
#if !defined(PM_HAVE_CUDA)
  (void)opt;
  std::printf("mamba_scan: skipped (this build has no CUDA backend)\n\n");
  return Json().str("skipped", "built without CUDA");
#else
  if (!tensor::cuda::available()) {
    std::printf("mamba_scan: skipped (no CUDA GPU on this machine)\n\n");
    return Json().str("skipped", "no GPU");
  }
  const auto dev = tensor::Device::cuda();
  // copy bandwidth: 256 MiB device to device, read + write counted
  const int64_t n = int64_t(64) << 20;
  Tensor src = tensor::ones({n}, DType::Float32, dev), dst = Tensor::empty({n}, DType::Float32, dev);
  const double copy_ms = 1e3 * best_gpu_seconds(opt.warmup + 1, std::max(opt.repeats, 10), [&] {
    check(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), static_cast<size_t>(n) * 4, cudaMemcpyDeviceToDevice, 0),
          "cudaMemcpyAsync");
  });
  const double bw = 2.0 * static_cast<double>(n) * 4 / (copy_ms * 1e-3);  // bytes / s
  src = dst = Tensor();

  struct Shape {
    int64_t b, E, L, N;
    double mamba_ssm_h100_ms;
  };
  const Shape shapes[] = {{4, 1536, 512, 16, 0.55}, {8, 1536, 2048, 16, 3.36}};
  Table t({"shape (b, E, L, N)", "fwd ms", "bwd ms", "fwd+bwd ms", "mamba_ssm H100 ms", "floor ms", "x floor"});
  Json out;
  out.num("copy_GBps", bw * 1e-9);
  for (const Shape& s : shapes) {
    tensor::Generator g(1);
    auto seq = [&](double lo, double hi) {
      return tensor::rand({s.b, s.L, s.E}, DType::Float32, &g, lo, hi, dev).transpose(1, 2);
    };
    Tensor u = seq(-1, 1), delta = seq(-3, 0), z = seq(-1, 1), grad = seq(-1, 1);
    Tensor A = tensor::rand({s.E, s.N}, DType::Float32, &g, -8, -1, dev);
    Tensor BC = tensor::rand({s.b, s.L, 2 * s.N}, DType::Float32, &g, -1, 1, dev);
    Tensor B = BC.narrow(2, 0, s.N).transpose(1, 2), C = BC.narrow(2, s.N, s.N).transpose(1, 2);
    Tensor D = tensor::ones({s.E}, DType::Float32, dev), bias = tensor::rand({s.E}, DType::Float32, &g, -4, -2, dev);
    mamba::ScanOptions o;
    o.delta_softplus = true;
    mamba::ScanForward f;
    const double fwd = 1e3 * best_gpu_seconds(opt.warmup, opt.repeats, [&] {
      f = mamba::selective_scan_forward(u, delta, A, B, C, D, z, bias, o, true);
    });
    const double bwd = 1e3 * best_gpu_seconds(opt.warmup, opt.repeats, [&] {
      mamba::selective_scan_backward(grad, u, delta, A, B, C, D, z, bias, f.checkpoints, o);
    });
    const double both = 1e3 * best_gpu_seconds(opt.warmup, opt.repeats, [&] {
      mamba::ScanForward ff = mamba::selective_scan_forward(u, delta, A, B, C, D, z, bias, o, true);
      mamba::selective_scan_backward(grad, u, delta, A, B, C, D, z, bias, ff.checkpoints, o);
    });
    const double bel = static_cast<double>(s.b * s.E * s.L), bnl = static_cast<double>(s.b * s.N * s.L);
    const double bytes = 4.0 * (11 * bel + 6 * bnl);
    const double floor_ms = bytes / bw * 1e3;
    const std::string label = std::to_string(s.b) + ", " + std::to_string(s.E) + ", " + std::to_string(s.L) + ", " +
                              std::to_string(s.N);
    t.add({label, fixed(fwd, 3), fixed(bwd, 3), fixed(both, 3), fixed(s.mamba_ssm_h100_ms, 2), fixed(floor_ms, 3),
           fixed(both / floor_ms, 1)});
    out.obj("b" + std::to_string(s.b) + "_L" + std::to_string(s.L),
            Json().num("fwd_ms", fwd).num("bwd_ms", bwd).num("fwd_bwd_ms", both).num("mamba_ssm_h100_ms", s.mamba_ssm_h100_ms)
                .num("floor_ms", floor_ms).num("bytes", bytes));
  }
  std::printf("mamba_scan: CUDA selective scan fwd + bwd, float32 (copy bandwidth %.0f GB/s)\n", bw * 1e-9);
  t.print();
  std::printf("\n");
  return out;
#endif
}

// ---- bench lm-train -------------------------------------------------------------------------------

namespace {

struct LmTrainFlags {
  std::string device = "cpu", preset;
  int64_t d_model = 256, layers = 4, vocab = 256, batch = 8, seq_len = 256;
  int threads = 0, steps = 5, warmup = 2;
};

[[noreturn]] void usage_error(const std::string& m) {
  std::fprintf(stderr, "bench lm-train: error: %s\n", m.c_str());
  std::exit(1);
}

LmTrainFlags parse_lm_train(int argc, char** argv) {
  LmTrainFlags f;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++i];
    };
    auto integer = [&](int64_t lo) -> int64_t {
      const std::string v = value();
      char* end = nullptr;
      const long long x = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end || x < lo) usage_error(arg + " must be an integer >= " + std::to_string(lo) + ", got '" + v + "'");
      return x;
    };
    if (arg == "--help" || arg == "-h") {
      std::printf(
          "usage: bench lm-train [--device cpu|cuda] [--preset NAME | --d-model D --layers N --vocab V]\n"
          "                      [--batch B] [--seq-len L] [--threads T] [--steps S] [--warmup W]\n"
          "Times full MambaLM training steps (forward, backward, AdamW) in float32 after W untimed steps and\n"
          "prints one JSON line: tokens_per_s, step_s (median of S), peak_memory_bytes, ...\n");
      std::exit(0);
    } else if (arg == "--device") f.device = value();
    else if (arg == "--preset") f.preset = value();
    else if (arg == "--d-model") f.d_model = integer(1);
    else if (arg == "--layers") f.layers = integer(1);
    else if (arg == "--vocab") f.vocab = integer(2);
    else if (arg == "--batch") f.batch = integer(1);
    else if (arg == "--seq-len") f.seq_len = integer(2);
    else if (arg == "--threads") f.threads = static_cast<int>(integer(0));
    else if (arg == "--steps") f.steps = static_cast<int>(integer(1));
    else if (arg == "--warmup") f.warmup = static_cast<int>(integer(0));
    else usage_error("unknown flag " + arg + " (try --help)");
  }
  if (f.device != "cpu" && f.device != "cuda") usage_error("--device must be cpu or cuda, got '" + f.device + "'");
  return f;
}

size_t cpu_peak_rss_bytes() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<size_t>(r.ru_maxrss) * 1024;
}

}  // namespace

int lm_train_main(int argc, char** argv) {
  const LmTrainFlags f = parse_lm_train(argc, argv);
  try {
    mamba::MambaConfig cfg;
    if (!f.preset.empty()) {
      cfg = mamba::mamba_preset(f.preset);
    } else {
      cfg.d_model = f.d_model, cfg.n_layer = f.layers, cfg.vocab_size = f.vocab;
    }
    const bool gpu = f.device == "cuda";
    if (gpu && !tensor::cuda::available())
      throw std::runtime_error("--device cuda: no usable CUDA GPU (or the build has no CUDA backend)");
    if (f.threads > 0) omp_set_num_threads(f.threads);
    const tensor::Device dev = gpu ? tensor::Device::cuda() : tensor::Device::cpu();
    tensor::Generator g(0);
    mamba::MambaLM model(cfg, &g, DType::Float32);
    model.to(dev);
    model.train();
    nn::optim::AdamWOptions ao;
    ao.lr = 1e-4;
    nn::optim::AdamW opt(model.trainable_parameters(), ao);
    const Tensor ids = tensor::randint(0, cfg.vocab_size, {f.batch, f.seq_len}, &g).to(dev);
    auto sync = [&] {
      if (gpu) tensor::cuda::synchronize();
    };
    double last_loss = 0;
    auto step = [&] {
      opt.zero_grad();
      autograd::Variable loss = model.next_token_loss(ids);
      loss.backward();
      opt.step();
      sync();
      last_loss = loss.data().to(tensor::Device::cpu()).item<double>();
    };
    for (int i = 0; i < f.warmup; ++i) step();
    if (gpu) tensor::cuda::reset_peak_memory();
    std::vector<double> times;
    for (int i = 0; i < f.steps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      step();
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    const double step_s = times[times.size() / 2];
    const double tokens = static_cast<double>(f.batch * f.seq_len);
    const size_t peak = gpu ? tensor::cuda::memory_stats().peak_bytes_in_use : cpu_peak_rss_bytes();
    Json j;
    j.str("device", f.device)
        .str("preset", f.preset.empty() ? "custom" : f.preset)
        .num("d_model", static_cast<double>(cfg.d_model))
        .num("layers", static_cast<double>(cfg.n_layer))
        .num("vocab", static_cast<double>(cfg.vocab_size))
        .num("batch", static_cast<double>(f.batch))
        .num("seq_len", static_cast<double>(f.seq_len))
        .num("threads", gpu ? 0.0 : static_cast<double>(omp_get_max_threads()))
        .num("parameters", static_cast<double>(model.num_parameters()))
        .num("steps", f.steps)
        .num("tokens_per_s", tokens / step_s)
        .num("step_s", step_s)
        .num("step_s_min", times.front())
        .num("peak_memory_bytes", static_cast<double>(peak))
        .str("peak_memory_kind", gpu ? "cuda allocator peak bytes in use (timed steps)" : "process peak RSS")
        .num("loss", last_loss);
    std::printf("%s\n", j.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench lm-train: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace bench
