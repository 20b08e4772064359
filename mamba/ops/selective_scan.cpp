// selective_scan.cpp: the selective scan on the CPU (forward, chunk-checkpointed backward, decode
// step) and the differentiable op "selective_scan".
//
// Layout of the work: blocks of W consecutive channels (one 64-byte vector of lanes) of one batch
// row run the recurrence together, so every inner loop is a plain loop over the W lanes; OpenMP
// spreads the (batch, block) pairs over threads. Sequences move between the [b, E, L] tensors (any
// strides) and [step][lane] buffers a chunk at a time. B and C are transposed once to [b][L][N], so
// the N values of a step are contiguous scalars broadcast to the lanes. The backward walks chunks
// from last to first, recomputes the chunk's states from the saved state entering it, then runs the
// adjoint recurrence backwards through the chunk (spec §5.1, §5.3, §5.5). CUDA tensors go to
// mamba/ops/cuda/selective_scan.cu after the argument checks.
#include "mamba/ops/selective_scan.h"

#include <algorithm>
#include <string>
#include <vector>

#include "mamba/ops/cuda/mamba_cuda.h"
#include "mamba/ops/op_registry.h"
#include "mamba/ops/scan_math.h"
#include "mamba/ops/simd.h"
#include "tensor/cpu/loops.h"
#include "tensor/cuda/dispatch.h"
#include "tensor/ops/creation.h"

namespace mamba {

namespace {

using detail::Seq;
using tensor::Shape;
using tensor::shape_str;

constexpr const char* kOp = "selective_scan";

struct Geom {
  int64_t b = 0, E = 0, L = 0, N = 0;
};

void expect_shape(const char* op, const char* what, const Tensor& t, const Shape& want, const char* layout,
                  const Tensor& u) {
  if (t.shape() != want)
    throw std::invalid_argument(std::string(op) + ": " + what + " of shape " + shape_str(t.shape()) + " must be " +
                                layout + " = " + shape_str(want) + " for u of shape " + shape_str(u.shape()));
}

void expect_float_like(const char* op, const Tensor& u, const Tensor& t) {
  tensor::check_same_device(op, u, t);
  tensor::check_same_dtype(op, u, t);
}

Geom check_scan_args(const char* op, const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                     const Tensor& C, const Tensor& D, const Tensor& z, const Tensor& delta_bias,
                     const ScanOptions& opt) {
  tensor::check_defined(op, u, "u");
  tensor::check_defined(op, delta, "delta");
  tensor::check_defined(op, A, "A");
  tensor::check_defined(op, B, "B");
  tensor::check_defined(op, C, "C");
  if (!tensor::is_floating(u.dtype()))
    throw std::invalid_argument(std::string(op) + ": expected a float32 or float64 tensor, got " +
                                tensor::dtype_name(u.dtype()));
  if (u.dim() != 3) throw std::invalid_argument(std::string(op) + ": u must be [b, E, L], got " + shape_str(u.shape()));
  if (opt.chunk_size <= 0)
    throw std::invalid_argument(std::string(op) + ": chunk_size must be positive, got " + std::to_string(opt.chunk_size));
  Geom g;
  g.b = u.size(0), g.E = u.size(1), g.L = u.size(2);
  if (A.dim() != 2 || A.size(0) != g.E || A.size(1) < 1)
    throw std::invalid_argument(std::string(op) + ": A of shape " + shape_str(A.shape()) + " must be [E, N] with E = " +
                                std::to_string(g.E) + " and N >= 1 for u of shape " + shape_str(u.shape()));
  g.N = A.size(1);
  for (const Tensor* t : {&delta, &A, &B, &C, &D, &z, &delta_bias})
    if (t->defined()) expect_float_like(op, u, *t);
  expect_shape(op, "delta", delta, u.shape(), "[b, E, L]", u);
  expect_shape(op, "B", B, {g.b, g.N, g.L}, "[b, N, L]", u);
  expect_shape(op, "C", C, {g.b, g.N, g.L}, "[b, N, L]", u);
  if (D.defined()) expect_shape(op, "D", D, {g.E}, "[E]", u);
  if (z.defined()) expect_shape(op, "z", z, u.shape(), "[b, E, L]", u);
  if (delta_bias.defined()) expect_shape(op, "delta_bias", delta_bias, {g.E}, "[E]", u);
  return g;
}

int64_t n_chunks_of(int64_t L, int64_t chunk) { return L == 0 ? 0 : (L + chunk - 1) / chunk; }

// Steps between saved states: opt.chunk_size on the CPU, the kernel's tile on CUDA.
int64_t checkpoint_chunk(const Tensor& u, const ScanOptions& opt) {
#if defined(PM_HAVE_CUDA)
  if (u.device().is_cuda()) return cuda::scan_tile(u.dtype());
#endif
  (void)u;
  return opt.chunk_size;
}

// Channel row (bi, e) of a [b, E, L] tensor.
template <typename T> Seq<T> row(const Tensor& x, int64_t bi, int64_t e) {
  return {x.data<T>() + bi * x.stride(0) + e * x.stride(1), x.stride(2)};
}

// What the forward and the backward share: B and C transposed to [b][L][N] (the N values of one step
// contiguous), and D / delta_bias as plain arrays (zeros when absent).
template <typename T> struct Prepared {
  Geom g;
  std::vector<T> Bt, Ct, D, bias;
};

template <typename T> void transpose_to_steps(const Tensor& X, const Geom& g, std::vector<T>& out) {
  out.assign(static_cast<size_t>(g.b * g.L * g.N), T(0));
  const T* x = X.data<T>();
  const int64_t s0 = X.stride(0), s1 = X.stride(1), s2 = X.stride(2);
  tensor::cpu::parallel_for(g.b * g.N, g.L, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t bi = r / g.N, n = r % g.N;
      const T* src = x + bi * s0 + n * s1;
      T* dst = out.data() + bi * g.L * g.N + n;
      for (int64_t t = 0; t < g.L; ++t) dst[t * g.N] = src[t * s2];
    }
  });
}

template <typename T>
Prepared<T> prepare(const Geom& g, const Tensor& B, const Tensor& C, const Tensor& D, const Tensor& delta_bias) {
  Prepared<T> P;
  P.g = g;
  transpose_to_steps<T>(B, g, P.Bt);
  transpose_to_steps<T>(C, g, P.Ct);
  P.D.assign(static_cast<size_t>(g.E), T(0));
  P.bias.assign(static_cast<size_t>(g.E), T(0));
  for (int64_t e = 0; e < g.E; ++e) {
    if (D.defined()) P.D[e] = D.data<T>()[e * D.stride(0)];
    if (delta_bias.defined()) P.bias[e] = delta_bias.data<T>()[e * delta_bias.stride(0)];
  }
  return P;
}

// The kernels work on blocks of W consecutive channels held in one 64-byte vector (16 float or 8
// double lanes, mamba/ops/simd.h); a last, partial block has zero inputs and A = 0 in its missing
// lanes, which keeps their states at 0.
using detail::kLanes;
using detail::vec_t;

// Steps [s0, s0 + n) in scan order of channels [e0, e0 + W) of the [b, E, L] tensor x at batch bi
// into buf[i] (zeros past E). Lanes are written through a T pointer (vector types alias their lane
// type), which compiles to plain stores.
template <typename T>
void gather(const Tensor& x, int64_t bi, int64_t e0, int64_t E, int64_t s0, int64_t n, int64_t L, bool rev,
            vec_t<T>* buf) {
  constexpr int64_t W = kLanes<T>;
  const T* base = x.data<T>() + bi * x.stride(0);
  const int64_t se = x.stride(1), sl = x.stride(2);
  if (se == 1 && e0 + W <= E) {  // channels adjacent in memory (a transposed [b, L, E]): one vector per step
    for (int64_t i = 0; i < n; ++i) buf[i] = detail::vload(base + e0 + (rev ? L - 1 - s0 - i : s0 + i) * sl);
    return;
  }
  T* out = reinterpret_cast<T*>(buf);
  for (int64_t w = 0; w < W; ++w) {
    if (e0 + w >= E) {
      for (int64_t i = 0; i < n; ++i) out[i * W + w] = T(0);
      continue;
    }
    const T* p = base + (e0 + w) * se;
    if (!rev)
      for (int64_t i = 0; i < n; ++i) out[i * W + w] = p[(s0 + i) * sl];
    else
      for (int64_t i = 0; i < n; ++i) out[i * W + w] = p[(L - 1 - s0 - i) * sl];
  }
}

// The inverse of gather, into a [b, E, L] tensor made by like_input (channels adjacent, or L).
template <typename T>
void scatter(const vec_t<T>* buf, int64_t bi, int64_t e0, int64_t E, int64_t s0, int64_t n, int64_t L, bool rev,
             const Tensor& out) {
  constexpr int64_t W = kLanes<T>;
  T* base = out.data<T>() + bi * out.stride(0);
  const int64_t se = out.stride(1), sl = out.stride(2);
  if (se == 1 && e0 + W <= E) {
    for (int64_t i = 0; i < n; ++i) detail::vstore(base + e0 + (rev ? L - 1 - s0 - i : s0 + i) * sl, buf[i]);
    return;
  }
  const T* in = reinterpret_cast<const T*>(buf);
  for (int64_t w = 0; w < W && e0 + w < E; ++w) {
    T* p = base + (e0 + w) * se;
    if (!rev)
      for (int64_t i = 0; i < n; ++i) p[(s0 + i) * sl] = in[i * W + w];
    else
      for (int64_t i = 0; i < n; ++i) p[(L - 1 - s0 - i) * sl] = in[i * W + w];
  }
}

// A fresh [b, E, L] tensor laid out like x: with adjacent channels (a transposed [b, L, E], the layout
// of the mixer's activations) when x has them, else contiguous. Lane blocks then move as whole vectors.
Tensor like_input(const Tensor& x) {
  const int64_t b = x.size(0), E = x.size(1), L = x.size(2);
  if (E > 1 && x.stride(1) == 1) return Tensor::empty({b, L, E}, x.dtype()).transpose(1, 2);
  return Tensor::empty({b, E, L}, x.dtype());
}

// A [E, N] for one block as Ab[n], and the block's D and delta_bias lanes.
template <typename T>
void block_params(const Prepared<T>& P, const Tensor& A, int64_t e0, vec_t<T>* Ab, vec_t<T>& Dv, vec_t<T>& bv) {
  constexpr int64_t W = kLanes<T>;
  const Geom& g = P.g;
  const T* a = A.data<T>();
  for (int64_t w = 0; w < W; ++w) {
    const int64_t e = e0 + w;
    const bool in = e < g.E;
    for (int64_t n = 0; n < g.N; ++n) Ab[n][w] = in ? a[e * A.stride(0) + n * A.stride(1)] : T(0);
    Dv[w] = in ? P.D[e] : T(0);
    bv[w] = in ? P.bias[e] : T(0);
  }
}

// raw = delta + bias in place, and δ = softplus(raw) (or raw) into dv, for n steps.
template <typename V> void step_sizes(V* raw, V* dv, V bv, int64_t n, bool sp) {
  for (int64_t i = 0; i < n; ++i) {
    raw[i] += bv;
    dv[i] = sp ? detail::vsoftplus(raw[i]) : raw[i];
  }
}

// ---- forward ----------------------------------------------------------------------------------------

template <typename T>
void forward_kernel(const Prepared<T>& P, const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& z,
                    const Tensor& out, T* checkpoints, T* last, const ScanOptions& opt) {
  using V = vec_t<T>;
  constexpr int64_t W = kLanes<T>;
  constexpr int64_t kGather = 64;  // steps moved between the strided tensors and the lane buffers at once
  const Geom& g = P.g;
  const int64_t L = g.L, N = g.N, E = g.E, chunk = opt.chunk_size, nc = n_chunks_of(L, chunk);
  const int64_t nblk = (E + W - 1) / W;
  const bool rev = opt.reverse, sp = opt.delta_softplus, has_z = z.defined();
  tensor::cpu::parallel_for(g.b * nblk, L * N * W * 8, [&](int64_t i0, int64_t i1) {
    std::vector<V> h(static_cast<size_t>(N)), Ab(static_cast<size_t>(N));
    std::vector<V> ub(kGather), rawb(kGather), dvb(kGather), zb(kGather), ob(kGather);
    V Dv, bv;
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t bi = item / nblk, e0 = (item % nblk) * W;
      block_params(P, A, e0, Ab.data(), Dv, bv);
      std::fill(h.begin(), h.end(), V{});
      for (int64_t s0 = 0; s0 < L; s0 += kGather) {
        const int64_t n = std::min(kGather, L - s0);
        gather<T>(u, bi, e0, E, s0, n, L, rev, ub.data());
        gather<T>(delta, bi, e0, E, s0, n, L, rev, rawb.data());
        if (has_z) gather<T>(z, bi, e0, E, s0, n, L, rev, zb.data());
        step_sizes(rawb.data(), dvb.data(), bv, n, sp);
        for (int64_t i = 0; i < n; ++i) {
          const int64_t s = s0 + i, t = rev ? L - 1 - s : s;
          if (checkpoints && s % chunk == 0)
            for (int64_t w = 0; w < W && e0 + w < E; ++w)
              for (int64_t k = 0; k < N; ++k) checkpoints[((bi * E + e0 + w) * nc + s / chunk) * N + k] = h[k][w];
          const T* Bp = P.Bt.data() + (bi * L + t) * N;
          const T* Cp = P.Ct.data() + (bi * L + t) * N;
          const V dv = dvb[i], dvu = dv * ub[i];
          V y{};
          for (int64_t k = 0; k < N; ++k) {
            const V hn = detail::vexp(dv * Ab[k]) * h[k] + dvu * Bp[k];
            h[k] = hn;
            y += Cp[k] * hn;
          }
          y += Dv * ub[i];
          ob[i] = has_z ? y * zb[i] * detail::vsigmoid(zb[i]) : y;
        }
        scatter<T>(ob.data(), bi, e0, E, s0, n, L, rev, out);
      }
      if (last)
        for (int64_t w = 0; w < W && e0 + w < E; ++w)
          for (int64_t k = 0; k < N; ++k) last[(bi * E + e0 + w) * N + k] = h[k][w];
    }
  });
}

// ---- backward ---------------------------------------------------------------------------------------

// Channel groups for the dB / dC sums: a function of the shapes only (never of the thread count),
// with about 64 (batch, group) work items and the per-item partial sums capped at 512 MB.
int64_t channel_groups(const Geom& g, int64_t nblk, size_t elem) {
  int64_t ng = std::max<int64_t>(1, std::min<int64_t>(nblk, 64 / std::max<int64_t>(g.b, 1)));
  while (ng > 1 && static_cast<double>(g.b * ng * g.L * g.N) * 2 * static_cast<double>(elem) > 512.0 * (1 << 20)) ng /= 2;
  return ng;
}

template <typename T>
ScanGrads backward_kernel(const Prepared<T>& P, const Tensor& grad, const Tensor& u, const Tensor& delta,
                          const Tensor& A, const Tensor& z, const T* checkpoints, const ScanOptions& opt,
                          tensor::DType dt) {
  using V = vec_t<T>;
  constexpr int64_t W = kLanes<T>;
  const Geom& g = P.g;
  const int64_t L = g.L, N = g.N, E = g.E, chunk = opt.chunk_size, nc = n_chunks_of(L, chunk);
  const int64_t nblk = (E + W - 1) / W;
  const bool rev = opt.reverse, sp = opt.delta_softplus, has_z = z.defined();
  const int64_t ng = channel_groups(g, nblk, sizeof(T));

  ScanGrads r;
  r.du = like_input(u);
  r.ddelta = like_input(u);
  if (has_z) r.dz = like_input(u);

  // Per (batch, group) partial sums of dB and dC over the group's channels, [t][n].
  std::vector<T> dBp(static_cast<size_t>(g.b * ng * L * N), T(0)), dCp(dBp.size(), T(0));
  std::vector<double> dA_part(static_cast<size_t>(g.b * E * N), 0.0), dD_part(static_cast<size_t>(g.b * E), 0.0),
      dbias_part(static_cast<size_t>(g.b * E), 0.0);

  tensor::cpu::parallel_for(g.b * ng, (nblk / ng + 1) * L * N * W * 24, [&](int64_t i0, int64_t i1) {
    const size_t cs = static_cast<size_t>(chunk), ns = static_cast<size_t>(N);
    // Per chunk: the states entering each step (row 0 = checkpoint) and after it, the decays, the
    // per-step lane values, and the chunk's lane-wise dB / dC terms before the sum over lanes.
    std::vector<V> hbuf((cs + 1) * ns), abuf(cs * ns), dBc(cs * ns), dCc(cs * ns);
    std::vector<V> ub(cs), rawb(cs), dvb(cs), zb(cs), gb(cs), yb(cs), dub(cs), ddb(cs), dzb(cs);
    std::vector<V> Ab(ns), carry(ns), dAc(ns);
    std::vector<double> dAacc(ns * W);
    V Dv, bv;
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t bi = item / ng, grp = item % ng;
      T* dBw = dBp.data() + item * L * N;
      T* dCw = dCp.data() + item * L * N;
      for (int64_t blk = grp * nblk / ng; blk < (grp + 1) * nblk / ng; ++blk) {
        const int64_t e0 = blk * W;
        block_params(P, A, e0, Ab.data(), Dv, bv);
        std::fill(carry.begin(), carry.end(), V{});  // Ā_{s+1} λ_{s+1}: zero after the last step
        std::fill(dAacc.begin(), dAacc.end(), 0.0);
        double dD_acc[W] = {}, db_acc[W] = {};
        for (int64_t c = nc - 1; c >= 0; --c) {
          const int64_t s0 = c * chunk, n = std::min(chunk, L - s0);
          gather<T>(u, bi, e0, E, s0, n, L, rev, ub.data());
          gather<T>(delta, bi, e0, E, s0, n, L, rev, rawb.data());
          gather<T>(grad, bi, e0, E, s0, n, L, rev, gb.data());
          if (has_z) gather<T>(z, bi, e0, E, s0, n, L, rev, zb.data());
          step_sizes(rawb.data(), dvb.data(), bv, n, sp);
          // 1. recompute the chunk's states from the saved one
          for (int64_t k = 0; k < N; ++k)
            for (int64_t w = 0; w < W; ++w)
              hbuf[k][w] = e0 + w < E ? checkpoints[((bi * E + e0 + w) * nc + c) * N + k] : T(0);
          for (int64_t i = 0; i < n; ++i) {
            const int64_t s = s0 + i, t = rev ? L - 1 - s : s;
            const T* Bp = P.Bt.data() + (bi * L + t) * N;
            const T* Cp = P.Ct.data() + (bi * L + t) * N;
            const V* hi = hbuf.data() + i * N;
            V* hn = hbuf.data() + (i + 1) * N;
            V* ai = abuf.data() + i * N;
            const V dv = dvb[i], dvu = dv * ub[i];
            V y{};
            for (int64_t k = 0; k < N; ++k) {
              const V a = detail::vexp(dv * Ab[k]);
              const V v = a * hi[k] + dvu * Bp[k];
              ai[k] = a;
              hn[k] = v;
              y += Cp[k] * v;
            }
            yb[i] = y + Dv * ub[i];
          }
          // 2. the gate: dz, and gb becomes dL/dy
          if (has_z)
            for (int64_t i = 0; i < n; ++i) {
              const V zv = zb[i], gv = gb[i], sg = detail::vsigmoid(zv);
              dzb[i] = gv * yb[i] * sg * (T(1) + zv * (T(1) - sg));
              gb[i] = gv * zv * sg;
            }
          // 3. the adjoint recurrence backwards through the chunk
          std::fill(dAc.begin(), dAc.end(), V{});
          for (int64_t i = n - 1; i >= 0; --i) {
            const int64_t s = s0 + i, t = rev ? L - 1 - s : s;
            const T* Bp = P.Bt.data() + (bi * L + t) * N;
            const T* Cp = P.Ct.data() + (bi * L + t) * N;
            const V* hprev = hbuf.data() + i * N;
            const V* hcur = hbuf.data() + (i + 1) * N;
            const V* ai = abuf.data() + i * N;
            V* dBi = dBc.data() + i * N;
            V* dCi = dCc.data() + i * N;
            const V gh = gb[i], dv = dvb[i], dvu = dv * ub[i];
            V slb{}, sxa{};
            for (int64_t k = 0; k < N; ++k) {
              const V lam = Cp[k] * gh + carry[k];   // λ_s
              const V x = lam * ai[k] * hprev[k];    // λ_s Ā_s h_{s-1}
              dAc[k] += x * dv;
              sxa += x * Ab[k];
              slb += lam * Bp[k];
              dBi[k] = lam * dvu;
              dCi[k] = gh * hcur[k];
              carry[k] = ai[k] * lam;
            }
            dub[i] = Dv * gh + dv * slb;
            V dd = slb * ub[i] + sxa;  // dL/dδ
            if (sp) dd *= detail::vsoftplus_grad(rawb[i]);
            ddb[i] = dd;
            for (int64_t w = 0; w < W; ++w) {
              dD_acc[w] += static_cast<double>(gh[w] * ub[i][w]);
              db_acc[w] += static_cast<double>(dd[w]);
            }
          }
          for (int64_t k = 0; k < N; ++k)
            for (int64_t w = 0; w < W; ++w) dAacc[k * W + w] += static_cast<double>(dAc[k][w]);
          // 4. sum the chunk's dB / dC over the block's lanes into the group's partials
          for (int64_t i = 0; i < n; ++i) {
            const int64_t t = rev ? L - 1 - (s0 + i) : s0 + i;
            for (int64_t k = 0; k < N; ++k) {
              T sb = 0, sc = 0;
              for (int64_t w = 0; w < W; ++w) {
                sb += dBc[i * N + k][w];
                sc += dCc[i * N + k][w];
              }
              dBw[t * N + k] += sb;
              dCw[t * N + k] += sc;
            }
          }
          scatter<T>(dub.data(), bi, e0, E, s0, n, L, rev, r.du);
          scatter<T>(ddb.data(), bi, e0, E, s0, n, L, rev, r.ddelta);
          if (has_z) scatter<T>(dzb.data(), bi, e0, E, s0, n, L, rev, r.dz);
        }
        for (int64_t w = 0; w < W && e0 + w < E; ++w) {
          const int64_t e = e0 + w;
          for (int64_t k = 0; k < N; ++k) dA_part[(bi * E + e) * N + k] = dAacc[k * W + w];
          dD_part[bi * E + e] = dD_acc[w];
          dbias_part[bi * E + e] = db_acc[w];
        }
      }
    }
  });

  // Reductions in a fixed order: dB, dC over channel groups; dA, dD, d delta_bias over the batch.
  r.dB = Tensor::empty({g.b, N, L}, dt);
  r.dC = Tensor::empty({g.b, N, L}, dt);
  T* dB = r.dB.data<T>();
  T* dC = r.dC.data<T>();
  tensor::cpu::parallel_for(g.b * L, ng * N, [&](int64_t r0, int64_t r1) {
    for (int64_t q = r0; q < r1; ++q) {
      const int64_t bi = q / L, t = q % L;
      for (int64_t k = 0; k < N; ++k) {
        T sb = 0, sc = 0;
        for (int64_t grp = 0; grp < ng; ++grp) {
          const int64_t at = ((bi * ng + grp) * L + t) * N + k;
          sb += dBp[at];
          sc += dCp[at];
        }
        dB[(bi * N + k) * L + t] = sb;
        dC[(bi * N + k) * L + t] = sc;
      }
    }
  });
  r.dA = Tensor::empty({E, N}, dt);
  r.dD = Tensor::empty({E}, dt);
  r.ddelta_bias = Tensor::empty({E}, dt);
  for (int64_t e = 0; e < E; ++e) {
    double sd = 0, sb = 0;
    for (int64_t bi = 0; bi < g.b; ++bi) {
      sd += dD_part[bi * E + e];
      sb += dbias_part[bi * E + e];
    }
    r.dD.data<T>()[e] = static_cast<T>(sd);
    r.ddelta_bias.data<T>()[e] = static_cast<T>(sb);
    for (int64_t k = 0; k < N; ++k) {
      double sa = 0;
      for (int64_t bi = 0; bi < g.b; ++bi) sa += dA_part[(bi * E + e) * N + k];
      r.dA.data<T>()[e * N + k] = static_cast<T>(sa);
    }
  }
  return r;
}

// ---- autograd node ------------------------------------------------------------------------------------

struct SelectiveScanBackward final : autograd::Node {
  Tensor u, delta, A, B, C, D, z, delta_bias, checkpoints;
  ScanOptions opt;
  const char* name() const override { return kOp; }
  std::vector<Tensor> backward(const Tensor& g) override {
    ScanGrads r = selective_scan_backward(g, u, delta, A, B, C, D, z, delta_bias, checkpoints, opt);
    auto keep = [this](size_t i, const Tensor& t) { return next[i] ? t : Tensor(); };
    return {keep(0, r.du), keep(1, r.ddelta), keep(2, r.dA), keep(3, r.dB),
            keep(4, r.dC), keep(5, r.dD),     keep(6, r.dz), keep(7, r.ddelta_bias)};
  }
  void release_saved() override { u = delta = A = B = C = D = z = delta_bias = checkpoints = Tensor(); }
};

const Tensor& data_or_none(const Variable& v) {
  static const Tensor none;
  return v.defined() ? v.data() : none;
}

}  // namespace

PM_MAMBA_OP("selective_scan");

ScanForward selective_scan_forward(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                   const Tensor& C, const Tensor& D, const Tensor& z, const Tensor& delta_bias,
                                   const ScanOptions& opt, bool save_checkpoints) {
  const Geom g = check_scan_args(kOp, u, delta, A, B, C, D, z, delta_bias, opt);
  PM_ON_CUDA(u, return cuda::selective_scan_forward(u, delta, A, B, C, D, z, delta_bias, opt, save_checkpoints));
  ScanForward f;
  f.out = like_input(u);
  f.last_state = tensor::zeros({g.b, g.E, g.N}, u.dtype());
  if (save_checkpoints) f.checkpoints = Tensor::empty({g.b, g.E, n_chunks_of(g.L, opt.chunk_size), g.N}, u.dtype());
  tensor::dispatch_float(u.dtype(), kOp, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Prepared<T> P = prepare<T>(g, B, C, D, delta_bias);
    forward_kernel<T>(P, u, delta, A, z, f.out, save_checkpoints ? f.checkpoints.data<T>() : nullptr,
                      g.L > 0 ? f.last_state.data<T>() : nullptr, opt);
  });
  return f;
}

ScanGrads selective_scan_backward(const Tensor& grad, const Tensor& u, const Tensor& delta, const Tensor& A,
                                  const Tensor& B, const Tensor& C, const Tensor& D, const Tensor& z,
                                  const Tensor& delta_bias, const Tensor& checkpoints, const ScanOptions& opt) {
  const char* op = "selective_scan_backward";
  const Geom g = check_scan_args(op, u, delta, A, B, C, D, z, delta_bias, opt);
  tensor::check_defined(op, grad, "gradient");
  expect_float_like(op, u, grad);
  expect_shape(op, "gradient", grad, u.shape(), "[b, E, L]", u);
  Tensor ck = checkpoints;
  if (ck.defined()) {
    expect_float_like(op, u, ck);
    expect_shape(op, "checkpoints", ck, {g.b, g.E, n_chunks_of(g.L, checkpoint_chunk(u, opt)), g.N},
                 "[b, E, ceil(L / chunk_size), N]", u);
    ck = ck.contiguous();
  } else {
    ck = selective_scan_forward(u, delta, A, B, C, D, z, delta_bias, opt, true).checkpoints;
  }
  PM_ON_CUDA(u, return cuda::selective_scan_backward(grad, u, delta, A, B, C, D, z, delta_bias, ck, opt));
  ScanGrads r = tensor::dispatch_float(u.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Prepared<T> P = prepare<T>(g, B, C, D, delta_bias);
    return backward_kernel<T>(P, grad, u, delta, A, z, ck.data<T>(), opt, u.dtype());
  });
  if (!D.defined()) r.dD = Tensor();
  if (!delta_bias.defined()) r.ddelta_bias = Tensor();
  return r;
}

Variable selective_scan(const Variable& u, const Variable& delta, const Variable& A, const Variable& B,
                        const Variable& C, const Variable& D, const Variable& z, const Variable& delta_bias,
                        const ScanOptions& opt, Tensor* last_state) {
  for (const Variable* v : {&u, &delta, &A, &B, &C})
    if (!v->defined()) throw std::invalid_argument("selective_scan: u, delta, A, B and C must be defined");
  const bool grad = autograd::needs_grad({u, delta, A, B, C, D, z, delta_bias});
  ScanForward f = selective_scan_forward(u.data(), delta.data(), A.data(), B.data(), C.data(), data_or_none(D),
                                         data_or_none(z), data_or_none(delta_bias), opt, grad);
  if (last_state) *last_state = f.last_state;
  if (!grad) return Variable(f.out);
  auto n = std::make_shared<SelectiveScanBackward>();
  n->u = u.data();
  n->delta = delta.data();
  n->A = A.data();
  n->B = B.data();
  n->C = C.data();
  n->D = data_or_none(D);
  n->z = data_or_none(z);
  n->delta_bias = data_or_none(delta_bias);
  n->checkpoints = f.checkpoints;
  n->opt = opt;
  return autograd::record(f.out, n, {u, delta, A, B, C, D, z, delta_bias});
}

Tensor selective_state_update(const Tensor& state, const Tensor& u, const Tensor& delta, const Tensor& A,
                              const Tensor& B, const Tensor& C, const Tensor& D, const Tensor& z,
                              const Tensor& delta_bias, bool delta_softplus) {
  const char* op = "selective_state_update";
  for (const Tensor* t : {&state, &u, &delta, &A, &B, &C}) tensor::check_defined(op, *t, "input");
  if (u.dim() != 2) throw std::invalid_argument(std::string(op) + ": u must be [b, E], got " + shape_str(u.shape()));
  const int64_t b = u.size(0), E = u.size(1);
  if (A.dim() != 2 || A.size(0) != E)
    throw std::invalid_argument(std::string(op) + ": A of shape " + shape_str(A.shape()) + " must be [E, N] with E = " +
                                std::to_string(E));
  const int64_t N = A.size(1);
  for (const Tensor* t : {&state, &delta, &A, &B, &C, &D, &z, &delta_bias})
    if (t->defined()) expect_float_like(op, u, *t);
  expect_shape(op, "state", state, {b, E, N}, "[b, E, N]", u);
  if (!state.is_contiguous()) throw std::invalid_argument(std::string(op) + ": state must be contiguous (it is updated in place)");
  expect_shape(op, "delta", delta, {b, E}, "[b, E]", u);
  expect_shape(op, "B", B, {b, N}, "[b, N]", u);
  expect_shape(op, "C", C, {b, N}, "[b, N]", u);
  if (D.defined()) expect_shape(op, "D", D, {E}, "[E]", u);
  if (z.defined()) expect_shape(op, "z", z, {b, E}, "[b, E]", u);
  if (delta_bias.defined()) expect_shape(op, "delta_bias", delta_bias, {E}, "[E]", u);
  PM_ON_CUDA(u, return cuda::selective_state_update(state, u, delta, A, B, C, D, z, delta_bias, delta_softplus));
  Tensor out = Tensor::empty({b, E}, u.dtype());
  tensor::dispatch_float(u.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Tensor Ac = A.contiguous(), Bc = B.contiguous(), Cc = C.contiguous();
    const T* Ap = Ac.data<T>();
    const T* Bp = Bc.data<T>();
    const T* Cp = Cc.data<T>();
    T* h = state.data<T>();
    T* o = out.data<T>();
    auto at = [](const Tensor& t, int64_t i, int64_t j) { return t.data<T>()[i * t.stride(0) + j * t.stride(1)]; };
    tensor::cpu::parallel_for(b * E, N * 8, [&](int64_t i0, int64_t i1) {
      for (int64_t item = i0; item < i1; ++item) {
        const int64_t bi = item / E, e = item % E;
        const T uv = at(u, bi, e);
        T dv = at(delta, bi, e) + (delta_bias.defined() ? delta_bias.data<T>()[e * delta_bias.stride(0)] : T(0));
        if (delta_softplus) dv = detail::softplus(dv);
        T* hs = h + item * N;
        T y = 0;
        for (int64_t n = 0; n < N; ++n) {
          hs[n] = detail::exp_approx(dv * Ap[e * N + n]) * hs[n] + dv * Bp[bi * N + n] * uv;
          y += Cp[bi * N + n] * hs[n];
        }
        if (D.defined()) y += D.data<T>()[e * D.stride(0)] * uv;
        o[item] = z.defined() ? y * detail::silu(at(z, bi, e)) : y;
      }
    });
  });
  return out;
}

}  // namespace mamba
