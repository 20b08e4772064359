// linalg.cpp: matrix products: matmul (torch.matmul semantics), mm and bmm. Every product
// becomes a loop of GEMM calls over the broadcast batch, with no copies for the common layouts: a
// row-major matrix and a transposed view (`.transpose(-1, -2)`) both reach the GEMM as pointer +
// leading dimension + transpose flag, and a broadcast batch dim is just a zero batch stride. On a GPU
// the same classification feeds cuBLAS (tensor/cuda/linalg.h) instead of the CPU GEMM.
#include "tensor/ops/linalg.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/loops.h"
#include "tensor/cuda/dispatch.h"
#include "tensor/cuda/linalg.h"

namespace tensor {
namespace {

// Products below this many multiply-adds run one per thread, in parallel over the batch; larger ones
// run one after another, each threaded by the GEMM itself (never both: no nested OpenMP). It is the
// GEMMs' own threshold for going parallel.
constexpr int64_t kSmallProductMacs = 64 * 64 * 64;

// How one [rows x cols] matrix with element strides (rs, cs) is handed to the GEMM: row-major with
// leading dimension ld, or (trans) as the transpose of a row-major [cols x rows] matrix. A size-1 dim
// places no constraint on its stride, so vectors and single rows always fit.
struct GemmLayout {
  bool fits = false;
  bool trans = false;
  int64_t ld = 0;
};

GemmLayout gemm_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  const int64_t min_row_ld = std::max<int64_t>(cols, 1), min_col_ld = std::max<int64_t>(rows, 1);
  if ((cols == 1 || cs == 1) && (rows == 1 || rs >= min_row_ld)) return {true, false, rows == 1 ? min_row_ld : rs};
  if ((rows == 1 || rs == 1) && (cols == 1 || cs >= min_col_ld)) return {true, true, cols == 1 ? min_col_ld : cs};
  return {};
}

// The layout of t's last two dims, copying t to contiguous memory when neither layout fits.
GemmLayout matrix_layout(Tensor& t) {
  GemmLayout l = gemm_layout(t.size(-2), t.size(-1), t.stride(-2), t.stride(-1));
  if (l.fits) return l;
  t = t.contiguous();
  return gemm_layout(t.size(-2), t.size(-1), t.stride(-2), t.stride(-1));
}

// t's element strides for walking `batch` (the broadcast batch shape) over t's leading dims: zero
// where t is broadcast (missing or size-1 dims).
Strides batch_strides(const Tensor& t, const Shape& batch) {
  const int64_t nb = static_cast<int64_t>(batch.size()), tb = t.dim() - 2, lead = nb - tb;
  Strides s(batch.size(), 0);
  for (int64_t d = 0; d < tb; ++d)
    if (t.size(d) != 1) s[lead + d] = t.stride(d);
  return s;
}

// True when a batch of row-major [M x K] matrices with the given batch strides is one taller
// [batch * M x K] row-major matrix with the same leading dimension (a contiguous activation tensor).
bool batch_stacks_rows(const Shape& batch, const Strides& bs, int64_t M, int64_t ld) {
  int64_t expect = M * ld;
  for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
    if (batch[d] == 1) continue;
    if (bs[d] != expect) return false;
    expect *= batch[d];
  }
  return true;
}

#if defined(PM_HAVE_CUDA)
// The CUDA form of the batch loop: the batch dims are coalesced (a dim merges into the next outer
// one when A, B and out all step through both as one stride), the innermost remaining dim becomes
// one strided-batched cuBLAS call (a broadcast operand has batch stride 0 there, which cuBLAS
// accepts for A and B), and any outer dims left loop on the host, one call per index.
template <typename T>
void cuda_batched_product(const GemmLayout& la, const GemmLayout& lb, int64_t M, int64_t N, int64_t K, const T* a,
                          const T* b, T* c, const Shape& batch, const Strides& as, const Strides& bs) {
  struct Dim {
    int64_t size, sa, sb, sc;
  };
  std::vector<Dim> dims;  // outermost first
  int64_t sc = M * N;
  std::vector<int64_t> cs(batch.size());
  for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
    cs[d] = sc;
    sc *= batch[d];
  }
  for (size_t d = 0; d < batch.size(); ++d) {
    if (batch[d] == 1) continue;
    if (!dims.empty()) {
      Dim& last = dims.back();
      if (last.sa == as[d] * batch[d] && last.sb == bs[d] * batch[d] && last.sc == cs[d] * batch[d]) {
        last.size *= batch[d];
        last.sa = as[d], last.sb = bs[d], last.sc = cs[d];
        continue;
      }
    }
    dims.push_back({batch[d], as[d], bs[d], cs[d]});
  }
  if (dims.empty()) dims.push_back({1, 0, 0, M * N});
  const Dim inner = dims.back();
  int64_t outer = 1;
  for (size_t d = 0; d + 1 < dims.size(); ++d) outer *= dims[d].size;
  for (int64_t i = 0; i < outer; ++i) {
    int64_t rem = i, off_a = 0, off_b = 0, off_c = 0;
    for (int64_t d = static_cast<int64_t>(dims.size()) - 2; d >= 0; --d) {
      const int64_t idx = rem % dims[d].size;
      rem /= dims[d].size;
      off_a += idx * dims[d].sa, off_b += idx * dims[d].sb, off_c += idx * dims[d].sc;
    }
    cuda::gemm<T>(la.trans, lb.trans, M, N, K, T(1), a + off_a, la.ld, inner.sa, b + off_b, lb.ld, inner.sb, T(0),
                  c + off_c, N, inner.sc, inner.size);
  }
}
#endif

// out[b] = A[b] @ B[b] for every index b of `batch`; out is contiguous [batch..., M, N]. On a GPU
// the same layouts reach cuBLAS (tensor/cuda/linalg.h).
template <typename T> void batched_product(Tensor A, Tensor B, const Shape& batch, const Tensor& out) {
  const int64_t M = A.size(-2), K = A.size(-1), N = B.size(-1);
  const GemmLayout la = matrix_layout(A), lb = matrix_layout(B);
  const Strides as = batch_strides(A, batch), bs = batch_strides(B, batch);
  const T* a = A.data<T>();
  const T* b = B.data<T>();
  T* c = out.data<T>();
  const int64_t count = numel_of(batch);

  // One matrix B for the whole batch and the A matrices stacked row after row (x @ W for a
  // [batch, L, d] activation x): a single taller GEMM does it all.
  const bool b_shared = std::all_of(bs.begin(), bs.end(), [](int64_t s) { return s == 0; });
  if (count == 1 || (b_shared && !la.trans && batch_stacks_rows(batch, as, M, la.ld))) {
    PM_ON_CUDA(out, cuda::gemm<T>(la.trans, lb.trans, count * M, N, K, T(1), a, la.ld, 0, b, lb.ld, 0, T(0), c, N, 0, 1);
               return);
    cpu::gemm<T>(la.trans, lb.trans, count * M, N, K, T(1), a, la.ld, b, lb.ld, T(0), c, N);
    return;
  }
  PM_ON_CUDA(out, cuda_batched_product<T>(la, lb, M, N, K, a, b, c, batch, as, bs); return);

  auto run = [&](int64_t i0, int64_t i1) {
    std::vector<int64_t> idx(batch.size());
    for (int64_t i = i0; i < i1; ++i) {
      int64_t rem = i, off_a = 0, off_b = 0;
      for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
        idx[d] = rem % batch[d];
        rem /= batch[d];
        off_a += idx[d] * as[d];
        off_b += idx[d] * bs[d];
      }
      cpu::gemm<T>(la.trans, lb.trans, M, N, K, T(1), a + off_a, la.ld, b + off_b, lb.ld, T(0), c + i * M * N, N);
    }
  };
  if (M * N * K < kSmallProductMacs)
    cpu::parallel_for(count, M * N * K, run);
  else
    run(0, count);
}

std::string shapes_of(const Tensor& a, const Tensor& b) { return shape_str(a.shape()) + " and " + shape_str(b.shape()); }

// The shared body of matmul, mm and bmm; `op` names the caller in errors.
Tensor matmul_impl(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a, "first");
  check_defined(op, b, "second");
  const std::string name(op);
  if (a.dim() == 0 || b.dim() == 0)
    throw std::invalid_argument(name + ": both operands need at least one dim, got shapes " + shapes_of(a, b));
  check_same_device(op, a, b);
  check_same_dtype(op, a, b);
  if (!is_floating(a.dtype()))
    throw std::invalid_argument(name + ": expected float32 or float64 operands, got " + dtype_name(a.dtype()) +
                                " shapes " + shapes_of(a, b));

  // Promote vectors to matrices: a [K] as a [1, K] row, b [K] as a [K, 1] column; the added dims
  // leave the result at the end.
  const bool a_vec = a.dim() == 1, b_vec = b.dim() == 1;
  const Tensor A = a_vec ? a.unsqueeze(0) : a;  // [..., M, K]
  const Tensor B = b_vec ? b.unsqueeze(1) : b;  // [..., K, N]
  const int64_t M = A.size(-2), K = A.size(-1), N = B.size(-1);
  if (B.size(-2) != K) throw std::invalid_argument(name + ": shapes " + shapes_of(a, b) + " cannot be multiplied");

  const Shape a_batch(A.shape().begin(), A.shape().end() - 2), b_batch(B.shape().begin(), B.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(a_batch, b_batch, op);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(name + ": batch dims of shapes " + shapes_of(a, b) + " do not broadcast");
  }

  Shape full = batch, result = batch;
  full.insert(full.end(), {M, N});
  if (!a_vec) result.push_back(M);
  if (!b_vec) result.push_back(N);
  Tensor out = Tensor::empty(full, a.dtype(), a.device());
  if (out.numel() > 0)
    dispatch_float(a.dtype(), op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      batched_product<T>(A, B, batch, out);
    });
  return out.view(result);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) { return matmul_impl("matmul", a, b); }

Tensor mm(const Tensor& a, const Tensor& b) {
  check_defined("mm", a, "first");
  check_defined("mm", b, "second");
  if (a.dim() != 2 || b.dim() != 2)
    throw std::invalid_argument("mm: expected 2-d operands, got shapes " + shapes_of(a, b));
  return matmul_impl("mm", a, b);
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_defined("bmm", a, "first");
  check_defined("bmm", b, "second");
  if (a.dim() != 3 || b.dim() != 3)
    throw std::invalid_argument("bmm: expected 3-d operands, got shapes " + shapes_of(a, b));
  if (a.size(0) != b.size(0))
    throw std::invalid_argument("bmm: batch sizes of shapes " + shapes_of(a, b) + " differ");
  return matmul_impl("bmm", a, b);
}

}  // namespace tensor
