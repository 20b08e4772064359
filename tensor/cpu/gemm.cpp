// gemm.cpp: the CPU matrix multiply C = alpha * op(A) op(B) + beta * C. `gemm` hands the product to
// CBLAS when the build found OpenBLAS; `gemm_fallback` is our own cache-blocked kernel, written to be
// read: the classic Goto/BLIS layering of loops around a small register-tiled micro-kernel.
//
// How the fallback spends its time, from the outside in:
//
//   for each block of C, MC rows x NC columns    the blocks are independent tasks, shared out
//                                                between OpenMP threads (dynamic schedule)
//     for pc over K in steps of KC               each KC slice adds into C (beta applies on the first)
//       pack A[ic:ic+MC, pc:pc+KC]               into MR-tall micro-panels; stays in L2
//       pack B[pc:pc+KC, jc:jc+NC]               into NR-wide micro-panels
//       for jr over NC in steps of NR            one B micro-panel [KC x NR] stays in L1 ...
//         for ir over MC in steps of MR          ... while the A micro-panels stream past it from L2
//           micro_kernel: C[MR x NR] (+)= A micro-panel * B micro-panel, accumulators in registers
//
// Packing copies each block into the exact order the micro-kernel reads it (unit stride, zero-padded
// to whole tiles), which is also where the transpose flags are absorbed: the micro-kernel never
// sees a stride. Each thread packs into its own buffers, so the threads never wait for each other
// until the last block is done. (Sharing packed panels between threads saves a little copying but
// needs a barrier per block; on a busy machine, where a thread can lose its core for a while, every
// barrier then stalls the whole team, and the product ran up to 10x slower.)
#include "tensor/cpu/gemm.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <new>

#ifdef PM_HAVE_BLAS
#include <cblas.h>
#endif

namespace tensor::cpu {

// ---- the BLAS switch --------------------------------------------------------------------------------

namespace {
std::atomic<bool> g_blas_on{true};
}  // namespace

bool blas_available() {
#ifdef PM_HAVE_BLAS
  return true;
#else
  return false;
#endif
}

bool blas_enabled() { return blas_available() && g_blas_on.load(std::memory_order_relaxed); }

void set_blas_enabled(bool on) { g_blas_on.store(on, std::memory_order_relaxed); }

namespace {

// ---- block sizes --------------------------------------------------------------------------------------
//
// Tuned on an AMD EPYC (Zen 4: 32 KB L1d and 1 MB L2 per core, 32 MB shared L3, AVX-512) and sensible
// on any recent x86 with 32 vector registers. Within a few percent, many choices perform alike; these
// are the reasons for the ones taken.
//
// MR x NR, the register tile: the micro-kernel keeps MR * NR accumulators in registers. With NR two
// 64-byte vectors wide (32 floats, 16 doubles) and MR = 12 that is 24 vector accumulators, plus two
// vectors of B and a broadcast of A: 27 of the 32 AVX-512 registers. Each step of k then does
// 2 loads of B and 12 broadcasts for 24 independent FMAs, enough to hide the FMA latency.
//
// KC, the depth of a packed slice: each C tile is loaded and stored once per slice, so deeper is
// better until the B micro-panel (KC x NR) no longer stays near L1: 256 x 32 floats = 32 KB. (128 was
// slower here, 384 no faster.)
//
// MC, the height of an A block: MC x KC should sit in L2 with room to spare for the B micro-panels
// and C tiles passing through: 240 x 256 floats = 240 KB of the 1 MB L2. A multiple of MR.
//
// NC, the width of a block of C: a block's B panel (KC x NC) is packed by the thread that computes
// the block, read once, and its micro-panels visit L1 one at a time; 256 x 512 floats = 512 KB, out of
// L2's way in L3. Each block repacks its own A block and B panel, so blocks should be large enough
// that the copying is small beside the 2 MC NC KC flops, yet numerous enough to keep every thread busy.
template <typename T> struct Blocking {
  static constexpr int MR = 12;
  static constexpr int NR = 128 / static_cast<int>(sizeof(T));
  static constexpr int64_t KC = 256;
  static constexpr int64_t MC = 240;
  static constexpr int64_t NC = 512;
  static_assert(MC % MR == 0 && NC % NR == 0, "blocks hold whole micro-panels");
};

// Below this many multiply-adds one thread does the whole product (thread start-up costs more).
// It matches OpenBLAS's own threshold, so both paths go parallel at the same sizes.
constexpr int64_t kParallelMacs = 64 * 64 * 64;

// A growable 64-byte-aligned scratch buffer. One per thread (thread_local), reused across calls, so a
// loop of small products does not allocate each time.
template <typename T> class Scratch {
 public:
  ~Scratch() { release(); }
  T* get(size_t n) {
    if (n > size_) {
      release();
      data_ = static_cast<T*>(::operator new[](n * sizeof(T), std::align_val_t(64)));
      size_ = n;
    }
    return data_;
  }

 private:
  void release() {
    if (data_) ::operator delete[](data_, std::align_val_t(64));
    data_ = nullptr;
    size_ = 0;
  }
  T* data_ = nullptr;
  size_t size_ = 0;
};

// A read-only strided matrix: element (i, j) is at p[i * rs + j * cs]. A transposed operand is the
// same storage with the two strides swapped, so op(A) and op(B) need no other code.
template <typename T> struct StridedMatrix {
  const T* p;
  int64_t rs, cs;
  const T& operator()(int64_t i, int64_t j) const { return p[i * rs + j * cs]; }
  StridedMatrix block(int64_t i, int64_t j) const { return {&(*this)(i, j), rs, cs}; }
};

template <typename T> StridedMatrix<T> as_matrix(const T* p, int64_t ld, bool transposed) {
  return transposed ? StridedMatrix<T>{p, 1, ld} : StridedMatrix<T>{p, ld, 1};
}

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// ---- packing ------------------------------------------------------------------------------------------

// Packs a strip of W lines over kc steps of k in the order the micro-kernel reads it:
// dst[p * W + w] = element p of line w, with lines from `width` to W zero. Line w starts at
// src + w * line_stride and steps along k by step_stride. The loops walk the source in memory order:
// along each line when its elements are adjacent, across the lines otherwise (walking a column of a
// row-major matrix would touch a new cache line for every element).
template <int W, typename T>
void pack_strip(const T* src, int64_t line_stride, int64_t step_stride, int64_t width, int64_t kc, T* dst) {
  if (step_stride == 1) {
    for (int64_t w = 0; w < width; ++w) {
      const T* line = src + w * line_stride;
      for (int64_t p = 0; p < kc; ++p) dst[p * W + w] = line[p];
    }
  } else {
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t w = 0; w < width; ++w) dst[p * W + w] = src[w * line_stride + p * step_stride];
  }
  for (int64_t p = 0; p < kc; ++p)
    for (int64_t w = width; w < W; ++w) dst[p * W + w] = T(0);
}

// An A micro-panel: rows [i0, i0 + MR) of the A block (mc x kc), as kc columns of MR values.
template <typename T> void pack_a_panel(const StridedMatrix<T>& a, int64_t i0, int64_t mc, int64_t kc, T* dst) {
  constexpr int MR = Blocking<T>::MR;
  pack_strip<MR>(&a(i0, 0), a.rs, a.cs, std::min<int64_t>(MR, mc - i0), kc, dst);
}

// A B micro-panel: columns [j0, j0 + NR) of the B panel (kc x nc), as kc rows of NR values.
template <typename T> void pack_b_panel(const StridedMatrix<T>& b, int64_t j0, int64_t nc, int64_t kc, T* dst) {
  constexpr int NR = Blocking<T>::NR;
  pack_strip<NR>(&b(0, j0), b.cs, b.rs, std::min<int64_t>(NR, nc - j0), kc, dst);
}

// ---- the micro-kernel ---------------------------------------------------------------------------------

// C[mr x nr] = alpha * (A micro-panel x B micro-panel) + beta * C, for one MR x NR tile (mr <= MR and
// nr <= NR are smaller only at the right and bottom edges of C). `a` holds kc columns of MR values and
// `b` kc rows of NR values, so step p is an outer product: acc += a[:, p] * b[p, :].
//
// Plain C++: with MR and NR compile-time constants the compiler keeps `acc` in vector registers, turns
// the j loop into NR / (vector width) FMAs per row with a[i] broadcast, and unrolls the i loop.
// `omp simd` asks for exactly that vectorisation (the default heuristics vectorise the i loop instead).
// beta == 0 must not read C: its old contents may be uninitialised memory or NaN.
template <typename T>
void micro_kernel(int64_t kc, const T* __restrict a, const T* __restrict b, T alpha, T beta, T* c, int64_t ldc,
                  int64_t mr, int64_t nr) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  T acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p, a += MR, b += NR) {
    for (int i = 0; i < MR; ++i) {
      const T ai = a[i];
#pragma omp simd
      for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
    }
  }

  if (mr == MR && nr == NR) {  // a whole tile: fixed trip counts, vectorised stores
    for (int i = 0; i < MR; ++i) {
      T* ci = c + i * ldc;
      if (beta == T(0)) {
#pragma omp simd
        for (int j = 0; j < NR; ++j) ci[j] = alpha * acc[i][j];
      } else {
#pragma omp simd
        for (int j = 0; j < NR; ++j) ci[j] = alpha * acc[i][j] + beta * ci[j];
      }
    }
  } else {  // an edge tile: only the mr x nr corner is part of C
    for (int64_t i = 0; i < mr; ++i)
      for (int64_t j = 0; j < nr; ++j) {
        T& cij = c[i * ldc + j];
        cij = beta == T(0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * cij;
      }
  }
}

// C = beta * C, the whole product when k == 0 or alpha == 0 (A and B are then never read).
template <typename T> void scale_c(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  if (beta == T(1)) return;
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    if (beta == T(0))
      std::fill(ci, ci + n, T(0));
    else
      for (int64_t j = 0; j < n; ++j) ci[j] *= beta;
  }
}

}  // namespace

// ---- the blocked fallback -----------------------------------------------------------------------------

namespace {

// One block of C (mc <= MC rows, nc <= NC columns, at c) = alpha * A rows x B columns + beta * C,
// on the calling thread: the three inner loops of the picture at the top of the file. `A` and `Bm`
// start at the block's first row and column.
template <typename T>
void product_block(const StridedMatrix<T>& A, const StridedMatrix<T>& Bm, int64_t mc, int64_t nc, int64_t k,
                   T alpha, T beta, T* c, int64_t ldc, T* a_pack, T* b_pack) {
  using B = Blocking<T>;
  constexpr int MR = B::MR, NR = B::NR;
  const int64_t m_panels = (mc + MR - 1) / MR, n_panels = (nc + NR - 1) / NR;
  for (int64_t pc = 0; pc < k; pc += B::KC) {
    const int64_t kc = std::min(B::KC, k - pc);
    const T beta_here = pc == 0 ? beta : T(1);  // later slices add onto the first one's result

    const StridedMatrix<T> a_block = A.block(0, pc), b_panel = Bm.block(pc, 0);
    for (int64_t ip = 0; ip < m_panels; ++ip) pack_a_panel(a_block, ip * MR, mc, kc, a_pack + ip * MR * kc);
    for (int64_t jp = 0; jp < n_panels; ++jp) pack_b_panel(b_panel, jp * NR, nc, kc, b_pack + jp * NR * kc);

    for (int64_t jp = 0; jp < n_panels; ++jp)
      for (int64_t ip = 0; ip < m_panels; ++ip) {
        const int64_t i = ip * MR, j = jp * NR;
        micro_kernel(kc, a_pack + ip * MR * kc, b_pack + jp * NR * kc, alpha, beta_here, c + i * ldc + j, ldc,
                     std::min<int64_t>(MR, mc - i), std::min<int64_t>(NR, nc - j));
      }
  }
}

// Splits `size` into the fewest parts of at most `block` each, as even as whole micro-panels allow,
// and returns the part size (so 1024 rows become 216 + 216 + 216 + 216 + 160, not 4 x 240 + 64).
int64_t even_block(int64_t size, int64_t block, int64_t panel) {
  const int64_t parts = (size + block - 1) / block;
  return round_up((size + parts - 1) / parts, panel);
}

}  // namespace

template <typename T>
void gemm_fallback(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                   const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  using B = Blocking<T>;
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == T(0)) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  const StridedMatrix<T> A = as_matrix(a, lda, trans_a);  // op(A): m x k
  const StridedMatrix<T> Bm = as_matrix(b, ldb, trans_b);  // op(B): k x n

  // Small products, and products inside someone else's parallel region (a batch loop), run on the
  // calling thread alone: no nested teams.
  const int threads = omp_get_max_threads();
  const bool parallel = m * n * k >= kParallelMacs && !omp_in_parallel() && threads > 1;

  // The grid of C blocks. A parallel product wants a few blocks per thread so that a thread slowed by
  // other work on the machine leaves its share to the others: narrower, then shorter blocks until
  // there are (a 192 x 384 weight gradient summed over 100k rows is one block otherwise).
  int64_t mb = even_block(m, B::MC, B::MR), nb = even_block(n, B::NC, B::NR);
  const int64_t wanted = parallel ? 4 * threads : 1;
  auto count = [](int64_t size, int64_t block) { return (size + block - 1) / block; };
  while (count(m, mb) * count(n, nb) < wanted && nb >= 8 * B::NR) nb = round_up(nb / 2, B::NR);
  while (count(m, mb) * count(n, nb) < wanted && mb >= 4 * B::MR) mb = round_up(mb / 2, B::MR);
  const int64_t row_blocks = count(m, mb), blocks = row_blocks * count(n, nb);

  const int64_t kc_max = std::min(B::KC, k);
  auto run_block = [&](int64_t t) {
    // Packing buffers of the running thread, kept for its next blocks and products.
    thread_local Scratch<T> a_scratch, b_scratch;
    T* const a_pack = a_scratch.get(static_cast<size_t>(mb * kc_max));
    T* const b_pack = b_scratch.get(static_cast<size_t>(nb * kc_max));
    // column by column, so that consecutive blocks read the same B columns
    const int64_t ic = (t % row_blocks) * mb, jc = (t / row_blocks) * nb;
    product_block(A.block(ic, 0), Bm.block(0, jc), std::min(mb, m - ic), std::min(nb, n - jc), k, alpha, beta,
                  c + ic * ldc + jc, ldc, a_pack, b_pack);
  };
  if (parallel && blocks > 1) {
#pragma omp parallel for schedule(dynamic)
    for (int64_t t = 0; t < blocks; ++t) run_block(t);
  } else {
    for (int64_t t = 0; t < blocks; ++t) run_block(t);
  }
}

// ---- the dispatcher -----------------------------------------------------------------------------------

#ifdef PM_HAVE_BLAS
namespace {
void blas_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}
void blas_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
               const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}
}  // namespace
#endif

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
#ifdef PM_HAVE_BLAS
  // CBLAS takes int sizes and wants k >= 1 (a k == 0 product is just the beta scaling).
  constexpr int64_t kIntMax = 2147483647;
  const bool fits_int = std::max({m, n, k, lda, ldb, ldc}) <= kIntMax;
  if (blas_enabled() && k > 0 && fits_int) {
    blas_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
#endif
  gemm_fallback(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);
template void gemm_fallback<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                                   int64_t, float, float*, int64_t);
template void gemm_fallback<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                    const double*, int64_t, double, double*, int64_t);

}  // namespace tensor::cpu
