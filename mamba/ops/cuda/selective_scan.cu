// selective_scan.cu: the selective scan on CUDA: one fused forward kernel, one fused backward kernel
// (plus the sums of the per-batch dA / dD / d delta_bias partials), and the decode step.
//
// Work layout (see mamba_cuda.h): thread (channel el, state n) of a block of EG channels x NP states,
// tid = n * EG + el, so a warp's lanes run over adjacent channels (coalesced for the mixer's
// channels-adjacent layout). Every thread runs its state's recurrence over the whole sequence in
// tiles of TT steps (scan order s; time t = s, or L-1-s when reversed). Per tile the block stages
// u, delta (with bias and softplus), δ u, z, the upstream gradient and B, C in shared memory, and
// each thread steps its state through the tile. Sums over n go through shared-memory partial arrays
// laid out [i][n][el] (channel index padded by one against bank conflicts):
//   forward:  y = Σ_n C h (+ D u, gate)                       -> out
//   backward: Σ_n λ B, Σ_n λ Ā h_{t-1} A                       -> du, ddelta (+ softplus')
// Sums over channels (backward: Σ_el λ δ u, Σ_el ĝ h -> dB, dC) are warp shuffles over the adjacent
// lanes of one state (up to 32 channels), added to dB / dC with atomicAdd by the group's first lane.
// The forward stores the state entering every tile (the checkpoints); the backward walks tiles last
// to first, recomputes the tile's states from its checkpoint (kept in shared memory), recomputes y
// for the gate, then runs the adjoint recurrence λ_s = C_s ĝ_s + Ā_{s+1} λ_{s+1} backwards through
// the tile (spec §5.1). dA, dD and d delta_bias are written per batch row and summed over the batch
// afterwards (deterministic); dB and dC are summed with atomicAdd (their low bits may vary from run
// to run).
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "mamba/ops/cuda/mamba_cuda.h"
#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/kernel_utils.cuh"
#include "tensor/ops/creation.h"
#include "tensor/ops/reduce.h"

namespace mamba::cuda {

namespace {

using tensor::DType;
using tensor::cuda::d_exp;
using tensor::cuda::d_log1p;

constexpr const char* kOp = "selective_scan (CUDA)";
constexpr int kMaxState = 256;

template <typename T> constexpr int tile_steps() { return sizeof(T) == 4 ? 16 : 8; }

// The decay Ā = e^(δ A) as 2^(δ A log2 e): A is scaled by log2 e once per thread (decay_scale), so
// each step costs one multiply and one ex2.approx for float (relative error about 2^-22 plus the
// rounding of the product, ~|δ A| 2^-24); float64 keeps the libm-accurate exp.
__device__ __forceinline__ float decay_scale(float a) { return a * 1.4426950408889634f; }
__device__ __forceinline__ double decay_scale(double a) { return a; }
__device__ __forceinline__ float decay(float x) { return exp2f(x); }
__device__ __forceinline__ double decay(double x) { return ::exp(x); }

template <typename T> __device__ __forceinline__ T sigmoid_d(T x) { return T(1) / (T(1) + d_exp(-x)); }
// log(1 + e^x), x itself above 20 (PyTorch's threshold), as the CPU op.
template <typename T> __device__ __forceinline__ T softplus_d(T x) { return x > T(20) ? x : d_log1p(d_exp(x)); }

// A [b, X, L] tensor (X = E or N) by strides; p null when absent.
template <typename T> struct Seq3 {
  T* p = nullptr;
  int64_t sb = 0, sx = 0, sl = 0;
};
template <typename T> Seq3<T> seq3(const Tensor& t) {
  if (!t.defined()) return {};
  return {t.data<T>(), t.stride(0), t.stride(1), t.stride(2)};
}

template <typename T> struct ScanArgs {
  Seq3<T> u, delta, z, grad, B, C;
  const T* A = nullptr;
  int64_t A_se = 0, A_sn = 0;
  const T* D = nullptr;
  int64_t D_s = 0;
  const T* bias = nullptr;
  int64_t bias_s = 0;
  int E = 0, N = 0, NP = 0, EG = 0, lgEG = 0, lgNP = 0;  // NP, EG powers of two
  int64_t L = 0, nc = 0;
  bool rev = false, softplus = false;
  // forward
  Seq3<T> out;
  T* ck = nullptr;    // [b, E, nc, N] or null
  T* last = nullptr;  // [b, E, N]
  // backward
  Seq3<T> du, ddelta, dz, dB, dC;
  T* dA_part = nullptr;     // [b, E, N]
  T* dD_part = nullptr;     // [b, E]
  T* dbias_part = nullptr;  // [b, E]
};

// Steps [s0, s0 + TT) of channels [e0, e0 + EG) of x at batch bi into dst[i * EG + el] (zeros outside
// the sequence or past E). Consecutive threads take consecutive channels when x's channels are
// adjacent in memory, else consecutive steps.
template <typename T, int TT>
__device__ __forceinline__ void load_channels(T* dst, const Seq3<T>& x, const ScanArgs<T>& a, int bi, int e0,
                                              int64_t s0) {
  const int EG = a.EG;
  const bool ef = x.sx == 1;
  const T* base = x.p + bi * x.sb;
  for (int q = threadIdx.x; q < TT * EG; q += blockDim.x) {
    int i, l;
    if (ef) i = q >> a.lgEG, l = q & (EG - 1);
    else l = q / TT, i = q & (TT - 1);
    const int64_t s = s0 + i;
    const int e = e0 + l;
    T v = T(0);
    if (s < a.L && e < a.E) v = base[e * x.sx + (a.rev ? a.L - 1 - s : s) * x.sl];
    dst[i * EG + l] = v;
  }
}

// delta + bias into raw (when raw is not null), δ = softplus(raw) (or raw) into dt and δ u into du
// (u already in su), as load_channels.
template <typename T, int TT>
__device__ __forceinline__ void load_delta(T* raw, T* dt, T* du, const T* su, const ScanArgs<T>& a, int bi, int e0,
                                           int64_t s0) {
  const int EG = a.EG;
  const Seq3<T>& x = a.delta;
  const bool ef = x.sx == 1;
  const T* base = x.p + bi * x.sb;
  for (int q = threadIdx.x; q < TT * EG; q += blockDim.x) {
    int i, l;
    if (ef) i = q >> a.lgEG, l = q & (EG - 1);
    else l = q / TT, i = q & (TT - 1);
    const int64_t s = s0 + i;
    const int e = e0 + l;
    T r = T(0), d = T(0);
    if (s < a.L && e < a.E) {
      r = base[e * x.sx + (a.rev ? a.L - 1 - s : s) * x.sl];
      if (a.bias) r += a.bias[e * a.bias_s];
      d = a.softplus ? softplus_d(r) : r;
    }
    if (raw) raw[i * EG + l] = r;
    dt[i * EG + l] = d;
    du[i * EG + l] = d * su[i * EG + l];
  }
}

// B or C for steps [s0, s0 + TT) into dst[i * NP + n] (zeros past N or outside the sequence).
template <typename T, int TT>
__device__ __forceinline__ void load_states(T* dst, const Seq3<T>& x, const ScanArgs<T>& a, int bi, int64_t s0) {
  const int NP = a.NP;
  const bool nf = x.sx == 1;
  const T* base = x.p + bi * x.sb;
  for (int q = threadIdx.x; q < TT * NP; q += blockDim.x) {
    int i, n;
    if (nf) i = q >> a.lgNP, n = q & (NP - 1);
    else n = q / TT, i = q & (TT - 1);
    const int64_t s = s0 + i;
    T v = T(0);
    if (s < a.L && n < a.N) v = base[n * x.sx + (a.rev ? a.L - 1 - s : s) * x.sl];
    dst[i * NP + n] = v;
  }
}

// Stages the tile of steps [s0, s0 + TT) for the forward and the backward alike: u, z (when gated),
// the upstream gradient (s_g, backward only), B, C, then δ (its pre-softplus value too when s_raw is
// given) and δ u. Ends with a barrier: the tile is ready for every thread.
template <typename T, int TT>
__device__ __forceinline__ void stage_tile(const ScanArgs<T>& a, int bi, int e0, int64_t s0, T* s_u, T* s_z, T* s_g,
                                           T* s_B, T* s_C, T* s_raw, T* s_dt, T* s_du) {
  load_channels<T, TT>(s_u, a.u, a, bi, e0, s0);
  if (a.z.p) load_channels<T, TT>(s_z, a.z, a, bi, e0, s0);
  if (s_g) load_channels<T, TT>(s_g, a.grad, a, bi, e0, s0);
  load_states<T, TT>(s_B, a.B, a, bi, s0);
  load_states<T, TT>(s_C, a.C, a, bi, s0);
  __syncthreads();
  load_delta<T, TT>(s_raw, s_dt, s_du, s_u, a, bi, e0, s0);  // reads s_u
  __syncthreads();
}

__host__ __device__ inline int padded_group(int EG) { return EG == 1 ? 1 : EG + 1; }

// Shared-memory elements: `seq` channel arrays [TT][EG], B and C [TT][NP], `part` partial arrays
// [TT][NP][EG + 1].
template <int TT> size_t smem_elems(int NP, int EG, int seq, int part) {
  return static_cast<size_t>(seq) * TT * EG + 2 * static_cast<size_t>(TT) * NP +
         static_cast<size_t>(part) * TT * NP * padded_group(EG);
}

// ---- forward ----------------------------------------------------------------------------------------

template <typename T, int TT> __global__ void scan_forward_kernel(ScanArgs<T> a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sm = reinterpret_cast<T*>(smem_raw);
  const int EG = a.EG, NP = a.NP, EGP = padded_group(EG), RS = NP * EGP, nthr = blockDim.x;
  const int tid = threadIdx.x, el = tid % EG, n = tid / EG;
  const int bi = blockIdx.y, e0 = blockIdx.x * EG, e = e0 + el;
  const bool active = n < a.N && e < a.E;
  T* s_dt = sm;
  T* s_u = s_dt + TT * EG;
  T* s_du = s_u + TT * EG;  // δ u
  T* s_z = s_du + TT * EG;
  T* s_B = s_z + TT * EG;
  T* s_C = s_B + TT * NP;
  T* s_p = s_C + TT * NP;
  const T An = decay_scale(active ? a.A[e * a.A_se + n * a.A_sn] : T(0));
  const int64_t ck_row = (static_cast<int64_t>(bi) * a.E + e) * a.nc;
  T h = T(0);
  for (int64_t c = 0; c < a.nc; ++c) {
    const int64_t s0 = c * TT;
    if (a.ck && active) a.ck[(ck_row + c) * a.N + n] = h;
    __syncthreads();  // the previous tile's readers are done
    stage_tile<T, TT>(a, bi, e0, s0, s_u, s_z, nullptr, s_B, s_C, nullptr, s_dt, s_du);
#pragma unroll
    for (int i = 0; i < TT; ++i) {
      h = decay(s_dt[i * EG + el] * An) * h + s_du[i * EG + el] * s_B[i * NP + n];
      s_p[i * RS + n * EGP + el] = s_C[i * NP + n] * h;
    }
    __syncthreads();
    for (int o = tid; o < TT * EG; o += nthr) {
      const int i = o >> a.lgEG, l = o & (EG - 1), ee = e0 + l;
      const int64_t s = s0 + i;
      if (s >= a.L || ee >= a.E) continue;
      T y = T(0);
      for (int k = 0; k < a.N; ++k) y += s_p[i * RS + k * EGP + l];
      const T uv = s_u[i * EG + l];
      if (a.D) y += a.D[ee * a.D_s] * uv;
      if (a.z.p) {
        const T zv = s_z[i * EG + l];
        y = y * zv * sigmoid_d(zv);
      }
      const int64_t t = a.rev ? a.L - 1 - s : s;
      a.out.p[bi * a.out.sb + ee * a.out.sx + t * a.out.sl] = y;
    }
  }
  if (a.last && active) a.last[(static_cast<int64_t>(bi) * a.E + e) * a.N + n] = h;
}

// ---- backward ---------------------------------------------------------------------------------------

template <typename T, int TT> __global__ void scan_backward_kernel(ScanArgs<T> a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sm = reinterpret_cast<T*>(smem_raw);
  const int EG = a.EG, NP = a.NP, EGP = padded_group(EG), RS = NP * EGP, nthr = blockDim.x;
  const int tid = threadIdx.x, el = tid % EG, n = tid / EG;
  const int bi = blockIdx.y, e0 = blockIdx.x * EG, e = e0 + el;
  const bool active = n < a.N && e < a.E;
  T* s_raw = sm;
  T* s_dt = s_raw + TT * EG;
  T* s_u = s_dt + TT * EG;
  T* s_du = s_u + TT * EG;  // δ u
  T* s_z = s_du + TT * EG;
  T* s_g = s_z + TT * EG;
  T* s_gh = s_g + TT * EG;
  T* s_B = s_gh + TT * EG;
  T* s_C = s_B + TT * NP;
  T* s_q1 = s_C + TT * NP;  // λ B         (sum over n -> du, ddelta); first the forward's C h (-> y)
  T* s_q2 = s_q1 + TT * RS;  // λ Ā h_{t-1} A  (sum over n -> ddelta)
  T* s_h = s_q2 + TT * RS;   // [TT + 1][threads]: the thread's states through the tile
  const T A0 = active ? a.A[e * a.A_se + n * a.A_sn] : T(0), An = decay_scale(A0);
  const int64_t ck_row = (static_cast<int64_t>(bi) * a.E + e) * a.nc;
  // dB / dC: a thread's channel group of one state n is `lanes` adjacent lanes of one warp, summed by
  // shuffles; their first lane adds the sum to global memory
  const int lanes = EG < 32 ? EG : 32;
  const bool leader = (el & (lanes - 1)) == 0 && n < a.N;
  T carry = T(0), dA_acc = T(0);
  T dD_acc = T(0), db_acc = T(0);  // for channel e0 + tid % EG (the channel this thread sums for)
  for (int64_t c = a.nc - 1; c >= 0; --c) {
    const int64_t s0 = c * TT;
    __syncthreads();  // the previous tile's readers are done
    stage_tile<T, TT>(a, bi, e0, s0, s_u, s_z, s_g, s_B, s_C, s_raw, s_dt, s_du);
    // 1. the tile's states from its checkpoint: hs(i) enters step i, hs(i + 1) leaves it
    auto hs = [&](int i) -> T& { return s_h[i * nthr + tid]; };
    T h = active ? a.ck[(ck_row + c) * a.N + n] : T(0);
    hs(0) = h;
#pragma unroll 4
    for (int i = 0; i < TT; ++i) {
      h = decay(s_dt[i * EG + el] * An) * h + s_du[i * EG + el] * s_B[i * NP + n];
      hs(i + 1) = h;
      if (a.z.p) s_q1[i * RS + n * EGP + el] = s_C[i * NP + n] * h;
    }
    __syncthreads();
    // 2. the gate: y, dz, and ĝ (the gradient reaching y); dD
    for (int o = tid; o < TT * EG; o += nthr) {
      const int i = o >> a.lgEG, l = o & (EG - 1), ee = e0 + l;
      const int64_t s = s0 + i;
      T gh = T(0);
      if (s < a.L && ee < a.E) {
        const T g = s_g[i * EG + l], uv = s_u[i * EG + l];
        if (a.z.p) {
          T y = T(0);
          for (int k = 0; k < a.N; ++k) y += s_q1[i * RS + k * EGP + l];
          if (a.D) y += a.D[ee * a.D_s] * uv;
          const T zv = s_z[i * EG + l], sg = sigmoid_d(zv);
          const int64_t t = a.rev ? a.L - 1 - s : s;
          a.dz.p[bi * a.dz.sb + ee * a.dz.sx + t * a.dz.sl] = g * y * sg * (T(1) + zv * (T(1) - sg));
          gh = g * zv * sg;
        } else {
          gh = g;
        }
        dD_acc += gh * uv;
      }
      s_gh[i * EG + l] = gh;
    }
    __syncthreads();
    // 3. the adjoint recurrence backwards through the tile
#pragma unroll 4
    for (int i = TT - 1; i >= 0; --i) {
      const T dt = s_dt[i * EG + el], gh = s_gh[i * EG + el];
      const T ab = decay(dt * An);
      const T lam = s_C[i * NP + n] * gh + carry;
      const T x = lam * ab * hs(i);
      dA_acc += x * dt;
      const int at = i * RS + n * EGP + el;
      s_q1[at] = lam * s_B[i * NP + n];
      s_q2[at] = x * A0;
      T rb = lam * s_du[i * EG + el], rc = gh * hs(i + 1);  // dB, dC terms
      for (int m = 1; m < lanes; m <<= 1) {
        rb += tensor::cuda::shfl_xor(rb, m);
        rc += tensor::cuda::shfl_xor(rc, m);
      }
      const int64_t s = s0 + i;
      if (leader && s < a.L) {
        const int64_t t = a.rev ? a.L - 1 - s : s;
        atomicAdd(a.dB.p + bi * a.dB.sb + n * a.dB.sx + t * a.dB.sl, rb);
        atomicAdd(a.dC.p + bi * a.dC.sb + n * a.dC.sx + t * a.dC.sl, rc);
      }
      carry = ab * lam;
    }
    __syncthreads();
    // 4. sums over n: du, ddelta (softplus'), d delta_bias
    for (int o = tid; o < TT * EG; o += nthr) {
      const int i = o >> a.lgEG, l = o & (EG - 1), ee = e0 + l;
      const int64_t s = s0 + i;
      if (s >= a.L || ee >= a.E) continue;
      T s1 = T(0), s2 = T(0);
      for (int k = 0; k < a.N; ++k) {
        s1 += s_q1[i * RS + k * EGP + l];
        s2 += s_q2[i * RS + k * EGP + l];
      }
      const T dt = s_dt[i * EG + l], uv = s_u[i * EG + l];
      const T du = (a.D ? a.D[ee * a.D_s] * s_gh[i * EG + l] : T(0)) + dt * s1;
      T dd = s1 * uv + s2;
      if (a.softplus) {
        const T r = s_raw[i * EG + l];
        dd *= r > T(20) ? T(1) : sigmoid_d(r);
      }
      db_acc += dd;
      const int64_t t = a.rev ? a.L - 1 - s : s;
      a.du.p[bi * a.du.sb + ee * a.du.sx + t * a.du.sl] = du;
      a.ddelta.p[bi * a.ddelta.sb + ee * a.ddelta.sx + t * a.ddelta.sl] = dd;
    }
  }
  if (active) a.dA_part[(static_cast<int64_t>(bi) * a.E + e) * a.N + n] = dA_acc;
  // dD and d delta_bias: the NP threads that summed for one channel add up their parts in order
  __syncthreads();
  T* red = s_q1;
  red[tid] = dD_acc;
  red[nthr + tid] = db_acc;
  __syncthreads();
  if (tid < EG && e0 + tid < a.E) {
    T sd = T(0), sb = T(0);
    for (int k = tid; k < nthr; k += EG) {
      sd += red[k];
      sb += red[nthr + k];
    }
    a.dD_part[static_cast<int64_t>(bi) * a.E + e0 + tid] = sd;
    a.dbias_part[static_cast<int64_t>(bi) * a.E + e0 + tid] = sb;
  }
}

// ---- decode step ------------------------------------------------------------------------------------

template <typename T> struct StepArgs {
  T* state;  // [b, E, N] contiguous
  const T *u, *delta, *z, *B, *C, *A, *D, *bias;
  int64_t u_s[2], d_s[2], z_s[2], B_s[2], C_s[2], A_s[2], D_s, bias_s;
  T* out;  // [b, E]
  int64_t b, E, N;
  bool softplus;
};

template <typename T> __global__ void state_update_kernel(StepArgs<T> a) {
  for (int64_t item = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; item < a.b * a.E;
       item += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t bi = item / a.E, e = item % a.E;
    const T uv = a.u[bi * a.u_s[0] + e * a.u_s[1]];
    T dv = a.delta[bi * a.d_s[0] + e * a.d_s[1]] + (a.bias ? a.bias[e * a.bias_s] : T(0));
    if (a.softplus) dv = softplus_d(dv);
    T* hs = a.state + item * a.N;
    T y = T(0);
    for (int64_t n = 0; n < a.N; ++n) {
      const T h = d_exp(dv * a.A[e * a.A_s[0] + n * a.A_s[1]]) * hs[n] + dv * a.B[bi * a.B_s[0] + n * a.B_s[1]] * uv;
      hs[n] = h;
      y += a.C[bi * a.C_s[0] + n * a.C_s[1]] * h;
    }
    if (a.D) y += a.D[e * a.D_s] * uv;
    if (a.z) {
      const T zv = a.z[bi * a.z_s[0] + e * a.z_s[1]];
      y = y * zv * sigmoid_d(zv);
    }
    a.out[item] = y;
  }
}

// ---- host side --------------------------------------------------------------------------------------

struct Geometry {
  int NP, EG, threads;
};
Geometry geometry(int64_t N) {
  if (N < 1 || N > kMaxState)
    throw std::invalid_argument(std::string(kOp) + ": d_state N must be in [1, " + std::to_string(kMaxState) +
                                "] on CUDA, got " + std::to_string(N));
  int NP = 1;
  while (NP < N) NP <<= 1;
  const int threads = std::max(128, NP);
  return {NP, threads / NP, threads};
}

// A fresh [b, E, L] tensor on x's device laid out like x (channels adjacent when x has them).
Tensor like_input(const Tensor& x) {
  const int64_t b = x.size(0), E = x.size(1), L = x.size(2);
  if (E > 1 && x.stride(1) == 1) return Tensor::empty({b, L, E}, x.dtype(), x.device()).transpose(1, 2);
  return Tensor::empty({b, E, L}, x.dtype(), x.device());
}

template <typename K> void allow_smem(K kernel, size_t bytes, const char* op) {
  if (bytes <= 48 * 1024) return;
  if (bytes > tensor::cuda::max_shared_optin())
    throw std::runtime_error(std::string(op) + ": needs " + std::to_string(bytes) + " bytes of shared memory, the device allows " +
                             std::to_string(tensor::cuda::max_shared_optin()));
  PM_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

template <typename T>
ScanArgs<T> common_args(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B, const Tensor& C,
                        const Tensor& D, const Tensor& z, const Tensor& delta_bias, const ScanOptions& opt,
                        const Geometry& geo) {
  ScanArgs<T> a;
  a.u = seq3<T>(u);
  a.delta = seq3<T>(delta);
  a.z = seq3<T>(z);
  a.B = seq3<T>(B);
  a.C = seq3<T>(C);
  a.A = A.data<T>();
  a.A_se = A.stride(0), a.A_sn = A.stride(1);
  if (D.defined()) a.D = D.data<T>(), a.D_s = D.stride(0);
  if (delta_bias.defined()) a.bias = delta_bias.data<T>(), a.bias_s = delta_bias.stride(0);
  a.E = static_cast<int>(u.size(1));
  a.N = static_cast<int>(A.size(1));
  a.NP = geo.NP, a.EG = geo.EG;
  while ((1 << a.lgEG) < a.EG) ++a.lgEG;
  while ((1 << a.lgNP) < a.NP) ++a.lgNP;
  a.L = u.size(2);
  const int64_t tt = tile_steps<T>();
  a.nc = (a.L + tt - 1) / tt;
  a.rev = opt.reverse, a.softplus = opt.delta_softplus;
  return a;
}

dim3 grid_of(const Tensor& u, const Geometry& geo) {
  const int64_t b = u.size(0), E = u.size(1);
  if (b > 65535) throw std::invalid_argument(std::string(kOp) + ": batch " + std::to_string(b) + " exceeds 65535");
  return dim3(static_cast<unsigned>((E + geo.EG - 1) / geo.EG), static_cast<unsigned>(b));
}

}  // namespace

int64_t scan_tile(DType dtype) { return dtype == DType::Float64 ? tile_steps<double>() : tile_steps<float>(); }

ScanForward selective_scan_forward(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                   const Tensor& C, const Tensor& D, const Tensor& z, const Tensor& delta_bias,
                                   const ScanOptions& opt, bool save_checkpoints) {
  const int64_t b = u.size(0), E = u.size(1), L = u.size(2), N = A.size(1);
  const Geometry geo = geometry(N);
  const int64_t tile = scan_tile(u.dtype()), nc = (L + tile - 1) / tile;
  ScanForward f;
  f.out = like_input(u);
  f.last_state = tensor::zeros({b, E, N}, u.dtype(), u.device());
  if (save_checkpoints) f.checkpoints = Tensor::empty({b, E, nc, N}, u.dtype(), u.device());
  if (b == 0 || E == 0 || L == 0) return f;
  tensor::dispatch_float(u.dtype(), kOp, [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int TT = tile_steps<T>();
    ScanArgs<T> a = common_args<T>(u, delta, A, B, C, D, z, delta_bias, opt, geo);
    a.out = seq3<T>(f.out);
    a.ck = save_checkpoints ? f.checkpoints.data<T>() : nullptr;
    a.last = f.last_state.data<T>();
    const size_t bytes = smem_elems<TT>(geo.NP, geo.EG, 4, 1) * sizeof(T);
    allow_smem(scan_forward_kernel<T, TT>, bytes, kOp);
    scan_forward_kernel<T, TT><<<grid_of(u, geo), geo.threads, bytes>>>(a);
    PM_CUDA_LAUNCH_CHECK(kOp);
  });
  return f;
}

ScanGrads selective_scan_backward(const Tensor& grad, const Tensor& u, const Tensor& delta, const Tensor& A,
                                  const Tensor& B, const Tensor& C, const Tensor& D, const Tensor& z,
                                  const Tensor& delta_bias, const Tensor& checkpoints, const ScanOptions& opt) {
  const char* op = "selective_scan_backward (CUDA)";
  const int64_t b = u.size(0), E = u.size(1), L = u.size(2), N = A.size(1);
  const Geometry geo = geometry(N);
  const auto dev = u.device();
  const DType dt = u.dtype();
  ScanGrads r;
  r.du = like_input(u);
  r.ddelta = like_input(u);
  if (z.defined()) r.dz = like_input(u);
  r.dB = (N > 1 && B.stride(1) == 1) ? Tensor::empty({b, L, N}, dt, dev).transpose(1, 2) : Tensor::empty({b, N, L}, dt, dev);
  r.dC = (N > 1 && C.stride(1) == 1) ? Tensor::empty({b, L, N}, dt, dev).transpose(1, 2) : Tensor::empty({b, N, L}, dt, dev);
  const size_t elem = dt == DType::Float64 ? 8 : 4;
  if (r.dB.numel() > 0) {
    PM_CUDA_CHECK(cudaMemsetAsync(r.dB.raw_data(), 0, static_cast<size_t>(r.dB.numel()) * elem));
    PM_CUDA_CHECK(cudaMemsetAsync(r.dC.raw_data(), 0, static_cast<size_t>(r.dC.numel()) * elem));
  }
  if (b == 0 || E == 0 || L == 0) {
    r.dA = tensor::zeros({E, N}, dt, dev);
    if (D.defined()) r.dD = tensor::zeros({E}, dt, dev);
    if (delta_bias.defined()) r.ddelta_bias = tensor::zeros({E}, dt, dev);
    return r;
  }
  Tensor dA_part = Tensor::empty({b, E, N}, dt, dev);
  Tensor dD_part = Tensor::empty({b, E}, dt, dev), dbias_part = Tensor::empty({b, E}, dt, dev);
  tensor::dispatch_float(dt, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int TT = tile_steps<T>();
    ScanArgs<T> a = common_args<T>(u, delta, A, B, C, D, z, delta_bias, opt, geo);
    a.grad = seq3<T>(grad);
    a.ck = checkpoints.data<T>();
    a.du = seq3<T>(r.du);
    a.ddelta = seq3<T>(r.ddelta);
    a.dz = seq3<T>(r.dz);
    a.dB = seq3<T>(r.dB);
    a.dC = seq3<T>(r.dC);
    a.dA_part = dA_part.data<T>();
    a.dD_part = dD_part.data<T>();
    a.dbias_part = dbias_part.data<T>();
    const size_t bytes = (smem_elems<TT>(geo.NP, geo.EG, 7, 2) + static_cast<size_t>(TT + 1) * geo.threads) * sizeof(T);
    allow_smem(scan_backward_kernel<T, TT>, bytes, op);
    scan_backward_kernel<T, TT><<<grid_of(u, geo), geo.threads, bytes>>>(a);
    PM_CUDA_LAUNCH_CHECK(op);
  });
  r.dA = tensor::sum(dA_part, {0});
  if (D.defined()) r.dD = tensor::sum(dD_part, {0});
  if (delta_bias.defined()) r.ddelta_bias = tensor::sum(dbias_part, {0});
  return r;
}

Tensor selective_state_update(const Tensor& state, const Tensor& u, const Tensor& delta, const Tensor& A,
                              const Tensor& B, const Tensor& C, const Tensor& D, const Tensor& z,
                              const Tensor& delta_bias, bool delta_softplus) {
  const char* op = "selective_state_update (CUDA)";
  const int64_t b = u.size(0), E = u.size(1), N = A.size(1);
  Tensor out = Tensor::empty({b, E}, u.dtype(), u.device());
  if (b * E == 0) return out;
  tensor::dispatch_float(u.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    StepArgs<T> a{};
    a.state = state.data<T>();
    a.u = u.data<T>(), a.u_s[0] = u.stride(0), a.u_s[1] = u.stride(1);
    a.delta = delta.data<T>(), a.d_s[0] = delta.stride(0), a.d_s[1] = delta.stride(1);
    if (z.defined()) a.z = z.data<T>(), a.z_s[0] = z.stride(0), a.z_s[1] = z.stride(1);
    a.B = B.data<T>(), a.B_s[0] = B.stride(0), a.B_s[1] = B.stride(1);
    a.C = C.data<T>(), a.C_s[0] = C.stride(0), a.C_s[1] = C.stride(1);
    a.A = A.data<T>(), a.A_s[0] = A.stride(0), a.A_s[1] = A.stride(1);
    if (D.defined()) a.D = D.data<T>(), a.D_s = D.stride(0);
    if (delta_bias.defined()) a.bias = delta_bias.data<T>(), a.bias_s = delta_bias.stride(0);
    a.out = out.data<T>();
    a.b = b, a.E = E, a.N = N, a.softplus = delta_softplus;
    state_update_kernel<T><<<tensor::cuda::blocks_for(b * E), tensor::cuda::kThreads>>>(a);
    PM_CUDA_LAUNCH_CHECK(op);
  });
  return out;
}

}  // namespace mamba::cuda
