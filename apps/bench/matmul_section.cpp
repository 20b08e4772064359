// matmul_section.cpp: the `matmul` section of bench: float32 CPU matmul in GFLOP/s through the BLAS
// path and through our blocked fallback, at a square and a rectangular (transformer-layer-like) shape.
#include <omp.h>

#include <chrono>
#include <thread>

#include "section.h"
#include "tensor/cpu/gemm.h"
#include "tensor/ops.h"

namespace bench {

namespace {
struct Shape3 {
  int64_t m, n, k;  // C[m x n] = A[m x k] @ B[k x n]
  std::string label() const { return std::to_string(m) + " x " + std::to_string(n) + " x " + std::to_string(k); }
  std::string key() const { return std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k); }
};

// GFLOP/s of tensor::matmul(a, b) with the BLAS switch as given (2 m n k flops per product).
double gflops(const Options& opt, const Shape3& s, const tensor::Tensor& a, const tensor::Tensor& b, bool blas) {
  // After a product, OpenBLAS's worker threads (and OpenMP's) spin for a while before they sleep;
  // on a 2-core machine they would take a core from the path measured next. Let them settle.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  tensor::cpu::set_blas_enabled(blas);
  const double secs = best_seconds(opt, [&] { tensor::matmul(a, b); });
  tensor::cpu::set_blas_enabled(true);
  return 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k) / secs * 1e-9;
}
}  // namespace

Json matmul_section(const Options& opt) {
  const bool have_blas = tensor::cpu::blas_available();
  const int threads = omp_get_max_threads();
  std::printf("matmul: float32 CPU, C[M x N] = A[M x K] @ B[K x N], %d OpenMP thread%s, best of %d after %d warm-up\n",
              threads, threads == 1 ? "" : "s", opt.repeats, opt.warmup);
  std::printf("ratio = fallback time / BLAS time (1.0: as fast as BLAS; the floor is 4.0)\n\n");

  Table table({"M x N x K", "BLAS GFLOP/s", "fallback GFLOP/s", "ratio"});
  Json shapes;
  tensor::Generator gen(42);
  for (const Shape3& s : {Shape3{1024, 1024, 1024}, Shape3{2048, 768, 3072}}) {
    const tensor::Tensor a = tensor::randn({s.m, s.k}, tensor::DType::Float32, &gen);
    const tensor::Tensor b = tensor::randn({s.k, s.n}, tensor::DType::Float32, &gen);
    std::fprintf(stderr, "matmul %s ...\n", s.label().c_str());
    const double fb = gflops(opt, s, a, b, false);
    Json j;
    j.num("m", static_cast<double>(s.m)).num("n", static_cast<double>(s.n)).num("k", static_cast<double>(s.k));
    if (have_blas) {
      const double bl = gflops(opt, s, a, b, true);
      table.add({s.label(), fixed(bl, 1), fixed(fb, 1), fixed(bl / fb, 2)});
      j.num("blas_gflops", bl).num("fallback_gflops", fb).num("ratio", bl / fb);
    } else {
      table.add({s.label(), "n/a", fixed(fb, 1), "n/a"});
      j.null("blas_gflops").num("fallback_gflops", fb).null("ratio");
    }
    shapes.obj(s.key(), j);
  }
  table.print();
  std::printf("\n");
  return Json().num("threads", threads).obj("shapes", shapes);
}

}  // namespace bench
