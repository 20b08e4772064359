// causal_conv1d.cpp: the depthwise causal conv1d on the CPU (forward, backward, decode step) and the
// differentiable op "causal_conv1d".
//
// Each (batch, channel) row is copied once into a zero-padded buffer xb of length L + K - 1 so the
// inner loops need no bounds checks: forward time puts the K-1 zeros first and uses the taps as
// they are, reversed time puts the zeros last and uses the taps mirrored, and in both cases
//   p[t] = bias + Σ_j w'[j] · xb[t + j].
// The backward mirrors it: dxb[t + j] += w'[j] dp[t], dw'[j] += Σ_t dp[t] xb[t + j].
// When the input's channels are adjacent in memory (x.stride(1) == 1: a transposed [b, L, E], the
// mixer's layout), blocks of W channels run together in 64-byte vectors instead, step by step, and
// the results keep that layout. CUDA tensors go to mamba/ops/cuda/causal_conv1d.cu after the checks.
#include "mamba/ops/causal_conv1d.h"

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

constexpr const char* kOp = "causal_conv1d";

// x [b, E, L]; w [E, K] or [E, 1, K]; bias [E]. Returns K.
int64_t check_conv_args(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias) {
  tensor::check_defined(op, x, "input");
  tensor::check_defined(op, w, "weight");
  if (!tensor::is_floating(x.dtype()))
    throw std::invalid_argument(std::string(op) + ": expected a float32 or float64 tensor, got " +
                                tensor::dtype_name(x.dtype()));
  if (x.dim() != 3) throw std::invalid_argument(std::string(op) + ": input must be [b, E, L], got " + shape_str(x.shape()));
  const int64_t E = x.size(1);
  const bool w_ok = ((w.dim() == 3 && w.size(1) == 1) || w.dim() == 2) && w.size(0) == E && w.size(-1) >= 1;
  if (!w_ok)
    throw std::invalid_argument(std::string(op) + ": weight of shape " + shape_str(w.shape()) + " must be [E, 1, K] or [E, K] with E = " +
                                std::to_string(E) + " for input " + shape_str(x.shape()));
  for (const Tensor* t : {&w, &bias}) {
    if (!t->defined()) continue;
    tensor::check_same_device(op, x, *t);
    tensor::check_same_dtype(op, x, *t);
  }
  if (bias.defined() && bias.shape() != Shape{E})
    throw std::invalid_argument(std::string(op) + ": bias of shape " + shape_str(bias.shape()) + " must be [" +
                                std::to_string(E) + "] for input " + shape_str(x.shape()));
  return w.size(-1);
}

template <typename T> Seq<T> row(const Tensor& x, int64_t bi, int64_t e) {
  return {x.data<T>() + bi * x.stride(0) + e * x.stride(1), x.stride(2)};
}

// Channel e's taps in the order the padded buffer wants them (mirrored for reversed time).
template <typename T> void taps(const Tensor& w, int64_t e, int64_t K, bool reverse, T* out) {
  const T* p = w.data<T>() + e * w.stride(0);
  const int64_t sk = w.stride(w.dim() - 1);
  for (int64_t k = 0; k < K; ++k) out[reverse ? K - 1 - k : k] = p[k * sk];
}

// Fills xb [L + K - 1] with row (bi, e) of x and K-1 zeros (first for forward time, last for reversed).
template <typename T> void padded_row(const Tensor& x, int64_t bi, int64_t e, int64_t L, int64_t K, bool reverse, T* xb) {
  const Seq<T> xs = row<T>(x, bi, e);
  const int64_t lead = reverse ? 0 : K - 1;
  std::fill(xb, xb + L + K - 1, T(0));
  for (int64_t t = 0; t < L; ++t) xb[lead + t] = xs[t];
}

template <typename T> T bias_at(const Tensor& bias, int64_t e) {
  return bias.defined() ? bias.data<T>()[e * bias.stride(0)] : T(0);
}

// ---- channel-vectorised kernels (x.stride(1) == 1) ----------------------------------------------------

using detail::kLanes;
using detail::vec_t;

bool channels_adjacent(const Tensor& x) { return x.size(1) > 1 && x.stride(1) == 1; }

// A [b, E, L] tensor read and written W channels at a time: lanes [e0, e0 + W) of step t at batch bi
// (zeros past E). The strides are read once, outside the loops.
template <typename T> struct LaneView {
  T* base;
  int64_t sb, se, sl, E;
  explicit LaneView(const Tensor& x)
      : base(x.data<T>()), sb(x.stride(0)), se(x.stride(1)), sl(x.stride(2)), E(x.size(1)) {}
  vec_t<T> at(int64_t bi, int64_t e0, int64_t t) const {
    const T* p = base + bi * sb + t * sl + e0 * se;
    if (se == 1 && e0 + kLanes<T> <= E) return detail::vload(p);
    vec_t<T> v{};
    for (int64_t w = 0; w < kLanes<T> && e0 + w < E; ++w) v[w] = p[w * se];
    return v;
  }
  void put(int64_t bi, int64_t e0, int64_t t, vec_t<T> v) const {
    T* p = base + bi * sb + t * sl + e0 * se;
    if (se == 1 && e0 + kLanes<T> <= E) return detail::vstore(p, v);
    for (int64_t w = 0; w < kLanes<T> && e0 + w < E; ++w) p[w * se] = v[w];
  }
};

// The block's taps as vectors, wv[j] pairing with the input at t - (K-1) + j (forward time) or
// t + (K-1) - j (reversed), and its bias.
template <typename T>
void lane_taps(const Tensor& w, const Tensor& bias, int64_t e0, int64_t E, int64_t K, vec_t<T>* wv, vec_t<T>& bv) {
  const T* p = w.data<T>();
  const int64_t swe = w.stride(0), swk = w.stride(w.dim() - 1);
  for (int64_t j = 0; j < K; ++j) wv[j] = vec_t<T>{};
  bv = vec_t<T>{};
  for (int64_t l = 0; e0 + l < E && l < kLanes<T>; ++l) {
    for (int64_t j = 0; j < K; ++j) wv[j][l] = p[(e0 + l) * swe + j * swk];
    bv[l] = bias_at<T>(bias, e0 + l);
  }
}

// The pre-activation p[t] of a block.
template <typename T>
vec_t<T> lane_conv_at(const LaneView<T>& x, int64_t bi, int64_t e0, int64_t L, int64_t K, bool rev, const vec_t<T>* wv,
                      vec_t<T> bv, int64_t t) {
  vec_t<T> acc = bv;
  for (int64_t j = 0; j < K; ++j) {
    const int64_t src = rev ? t + (K - 1) - j : t - (K - 1) + j;
    if (src >= 0 && src < L) acc += wv[j] * x.at(bi, e0, src);
  }
  return acc;
}

template <typename T> void lane_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvOptions& opt, const Tensor& y) {
  constexpr int64_t W = kLanes<T>;
  const int64_t b = x.size(0), E = x.size(1), L = x.size(2), K = w.size(-1), nblk = (E + W - 1) / W;
  const LaneView<T> xv(x), yv(y);
  tensor::cpu::parallel_for(b * nblk, L * K * W, [&](int64_t i0, int64_t i1) {
    std::vector<vec_t<T>> wv(static_cast<size_t>(K));
    vec_t<T> bv;
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t bi = item / nblk, e0 = (item % nblk) * W;
      lane_taps<T>(w, bias, e0, E, K, wv.data(), bv);
      for (int64_t t = 0; t < L; ++t) {
        vec_t<T> p = lane_conv_at<T>(xv, bi, e0, L, K, opt.reverse, wv.data(), bv, t);
        if (opt.silu) p = p * detail::vsigmoid(p);
        yv.put(bi, e0, t, p);
      }
    }
  });
}

// dx into `dx` (laid out like x); per-(batch, channel) partial sums of dw [K] and dbias into the parts.
template <typename T>
void lane_backward(const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& bias, const ConvOptions& opt,
                   const Tensor& dx, std::vector<double>& dw_part, std::vector<double>& db_part) {
  constexpr int64_t W = kLanes<T>;
  using V = vec_t<T>;
  const int64_t b = x.size(0), E = x.size(1), L = x.size(2), K = w.size(-1), nblk = (E + W - 1) / W;
  const bool rev = opt.reverse;
  const LaneView<T> xv(x), gv(grad), dxv(dx);
  tensor::cpu::parallel_for(b * nblk, L * K * W * 3, [&](int64_t i0, int64_t i1) {
    std::vector<V> wv(static_cast<size_t>(K)), dp(static_cast<size_t>(L)), dwv(static_cast<size_t>(K));
    V bv;
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t bi = item / nblk, e0 = (item % nblk) * W;
      lane_taps<T>(w, bias, e0, E, K, wv.data(), bv);
      V db{};
      for (int64_t t = 0; t < L; ++t) {  // dL/dp, through silu' of the recomputed pre-activation
        V g = gv.at(bi, e0, t);
        if (opt.silu) {
          const V p = lane_conv_at<T>(xv, bi, e0, L, K, rev, wv.data(), bv, t);
          const V s = detail::vsigmoid(p);
          g = g * s * (T(1) + p * (T(1) - s));
        }
        dp[t] = g;
        db += g;
      }
      for (int64_t j = 0; j < K; ++j) dwv[j] = V{};
      for (int64_t t = 0; t < L; ++t)
        for (int64_t j = 0; j < K; ++j) {
          const int64_t src = rev ? t + (K - 1) - j : t - (K - 1) + j;
          if (src >= 0 && src < L) dwv[j] += dp[t] * xv.at(bi, e0, src);
        }
      for (int64_t s = 0; s < L; ++s) {  // dx[s] = Σ_j w[j] dp[t] over the outputs t that read s
        V acc{};
        for (int64_t j = 0; j < K; ++j) {
          const int64_t t = rev ? s - (K - 1) + j : s + (K - 1) - j;
          if (t >= 0 && t < L) acc += wv[j] * dp[t];
        }
        dxv.put(bi, e0, s, acc);
      }
      for (int64_t l = 0; l < W && e0 + l < E; ++l) {
        const int64_t e = e0 + l;
        for (int64_t j = 0; j < K; ++j) dw_part[(bi * E + e) * K + j] = static_cast<double>(dwv[j][l]);
        db_part[bi * E + e] = static_cast<double>(db[l]);
      }
    }
  });
}

struct CausalConv1dBackward final : autograd::Node {
  Tensor x, w, bias;
  ConvOptions opt;
  const char* name() const override { return kOp; }
  std::vector<Tensor> backward(const Tensor& g) override {
    ConvGrads r = causal_conv1d_backward(g, x, w, bias, opt);
    return {next[0] ? r.dx : Tensor(), next[1] ? r.dw : Tensor(), next[2] ? r.dbias : Tensor()};
  }
  void release_saved() override { x = w = bias = Tensor(); }
};

}  // namespace

PM_MAMBA_OP("causal_conv1d");

Tensor causal_conv1d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvOptions& opt) {
  const int64_t K = check_conv_args(kOp, x, w, bias);
  PM_ON_CUDA(x, return cuda::causal_conv1d_forward(x, w, bias, opt));
  const int64_t b = x.size(0), E = x.size(1), L = x.size(2);
  if (channels_adjacent(x)) {
    Tensor y = Tensor::empty({b, L, E}, x.dtype()).transpose(1, 2);
    tensor::dispatch_float(x.dtype(), kOp, [&](auto tag) { lane_forward<typename decltype(tag)::type>(x, w, bias, opt, y); });
    return y;
  }
  Tensor y = Tensor::empty({b, E, L}, x.dtype());
  tensor::dispatch_float(x.dtype(), kOp, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* yp = y.data<T>();
    tensor::cpu::parallel_for(b * E, L * K, [&](int64_t i0, int64_t i1) {
      std::vector<T> xb(static_cast<size_t>(L + K - 1)), wk(static_cast<size_t>(K));
      for (int64_t item = i0; item < i1; ++item) {
        const int64_t bi = item / E, e = item % E;
        padded_row<T>(x, bi, e, L, K, opt.reverse, xb.data());
        taps<T>(w, e, K, opt.reverse, wk.data());
        const T be = bias_at<T>(bias, e);
        T* out = yp + item * L;
        for (int64_t t = 0; t < L; ++t) out[t] = be;
        for (int64_t j = 0; j < K; ++j) {
          const T wj = wk[j];
          const T* src = xb.data() + j;
          for (int64_t t = 0; t < L; ++t) out[t] += wj * src[t];
        }
        if (opt.silu)
          for (int64_t t = 0; t < L; ++t) out[t] = detail::silu(out[t]);
      }
    });
  });
  return y;
}

ConvGrads causal_conv1d_backward(const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& bias,
                                 const ConvOptions& opt) {
  const char* op = "causal_conv1d_backward";
  const int64_t K = check_conv_args(op, x, w, bias);
  tensor::check_defined(op, grad, "gradient");
  tensor::check_same_device(op, x, grad);
  tensor::check_same_dtype(op, x, grad);
  if (grad.shape() != x.shape())
    throw std::invalid_argument(std::string(op) + ": gradient of shape " + shape_str(grad.shape()) +
                                " for an input of shape " + shape_str(x.shape()));
  PM_ON_CUDA(x, return cuda::causal_conv1d_backward(grad, x, w, bias, opt));
  const int64_t b = x.size(0), E = x.size(1), L = x.size(2);
  ConvGrads r;
  const bool lanes = channels_adjacent(x);
  r.dx = lanes ? Tensor::empty({b, L, E}, x.dtype()).transpose(1, 2) : Tensor::empty({b, E, L}, x.dtype());
  std::vector<double> dw_part(static_cast<size_t>(b * E * K), 0.0), db_part(static_cast<size_t>(b * E), 0.0);
  tensor::dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (lanes) lane_backward<T>(grad, x, w, bias, opt, r.dx, dw_part, db_part);
    T* dxp = r.dx.data<T>();
    if (!lanes) tensor::cpu::parallel_for(b * E, L * K * 3, [&](int64_t i0, int64_t i1) {
      std::vector<T> xb(static_cast<size_t>(L + K - 1)), dxb(static_cast<size_t>(L + K - 1)),
          wk(static_cast<size_t>(K)), dp(static_cast<size_t>(L));
      for (int64_t item = i0; item < i1; ++item) {
        const int64_t bi = item / E, e = item % E;
        padded_row<T>(x, bi, e, L, K, opt.reverse, xb.data());
        taps<T>(w, e, K, opt.reverse, wk.data());
        const Seq<T> gs = row<T>(grad, bi, e);
        for (int64_t t = 0; t < L; ++t) dp[t] = gs[t];
        if (opt.silu) {  // recompute the pre-activation p and take silu'(p)
          const T be = bias_at<T>(bias, e);
          for (int64_t t = 0; t < L; ++t) {
            T p = be;
            for (int64_t j = 0; j < K; ++j) p += wk[j] * xb[t + j];
            dp[t] *= detail::silu_grad(p);
          }
        }
        std::fill(dxb.begin(), dxb.end(), T(0));
        double db = 0;
        for (int64_t t = 0; t < L; ++t) db += static_cast<double>(dp[t]);
        for (int64_t j = 0; j < K; ++j) {
          const T wj = wk[j];
          T* dst = dxb.data() + j;
          const T* src = xb.data() + j;
          T acc = 0;
          for (int64_t t = 0; t < L; ++t) {
            dst[t] += wj * dp[t];
            acc += dp[t] * src[t];
          }
          const int64_t k = opt.reverse ? K - 1 - j : j;  // back to the weight's own tap order
          dw_part[item * K + k] = static_cast<double>(acc);
        }
        db_part[item] = db;
        const int64_t lead = opt.reverse ? 0 : K - 1;
        std::copy(dxb.data() + lead, dxb.data() + lead + L, dxp + item * L);
      }
    });
    // Sum the per-(batch, channel) partials over the batch in a fixed order.
    Tensor dw = Tensor::empty({E, K}, x.dtype());
    for (int64_t e = 0; e < E; ++e)
      for (int64_t k = 0; k < K; ++k) {
        double s = 0;
        for (int64_t bi = 0; bi < b; ++bi) s += dw_part[(bi * E + e) * K + k];
        dw.data<T>()[e * K + k] = static_cast<T>(s);
      }
    r.dw = dw.view(w.shape());
    if (bias.defined()) {
      r.dbias = Tensor::empty({E}, x.dtype());
      for (int64_t e = 0; e < E; ++e) {
        double s = 0;
        for (int64_t bi = 0; bi < b; ++bi) s += db_part[bi * E + e];
        r.dbias.data<T>()[e] = static_cast<T>(s);
      }
    }
  });
  return r;
}

Variable causal_conv1d(const Variable& x, const Variable& w, const Variable& bias, const ConvOptions& opt) {
  if (!x.defined() || !w.defined()) throw std::invalid_argument("causal_conv1d: input and weight must be defined");
  const Tensor no_bias;
  Tensor y = causal_conv1d_forward(x.data(), w.data(), bias.defined() ? bias.data() : no_bias, opt);
  if (!autograd::needs_grad({x, w, bias})) return Variable(y);
  auto n = std::make_shared<CausalConv1dBackward>();
  n->x = x.data();
  n->w = w.data();
  n->bias = bias.defined() ? bias.data() : no_bias;
  n->opt = opt;
  return autograd::record(y, n, {x, w, bias});
}

Tensor causal_conv1d_state(const Tensor& x, int64_t K) {
  const char* op = "causal_conv1d_state";
  tensor::check_defined(op, x, "input");
  if (x.dim() != 3) throw std::invalid_argument(std::string(op) + ": input must be [b, E, L], got " + shape_str(x.shape()));
  if (K < 1) throw std::invalid_argument(std::string(op) + ": K must be positive, got " + std::to_string(K));
  const int64_t L = x.size(2), keep = std::min(K, L);
  Tensor st = tensor::zeros({x.size(0), x.size(1), K}, x.dtype(), x.device());
  if (keep > 0) st.narrow(2, K - keep, keep).copy_(x.narrow(2, L - keep, keep));
  return st;
}

Tensor causal_conv1d_update(const Tensor& x_t, const Tensor& conv_state, const Tensor& w, const Tensor& bias, bool silu) {
  const char* op = "causal_conv1d_update";
  tensor::check_defined(op, x_t, "input");
  tensor::check_defined(op, conv_state, "conv_state");
  if (x_t.dim() != 2) throw std::invalid_argument(std::string(op) + ": input must be [b, E], got " + shape_str(x_t.shape()));
  const int64_t b = x_t.size(0), E = x_t.size(1);
  // Reuse the sequence checks with L = 1.
  const int64_t K = check_conv_args(op, x_t.unsqueeze(2), w, bias);
  tensor::check_same_dtype(op, x_t, conv_state);
  tensor::check_same_device(op, x_t, conv_state);
  if (conv_state.shape() != Shape{b, E, K} || !conv_state.is_contiguous())
    throw std::invalid_argument(std::string(op) + ": conv_state of shape " + shape_str(conv_state.shape()) +
                                " must be a contiguous [b, E, K] = " + shape_str({b, E, K}));
  PM_ON_CUDA(x_t, return cuda::causal_conv1d_update(x_t, conv_state, w, bias, silu));
  Tensor y = Tensor::empty({b, E}, x_t.dtype());
  tensor::dispatch_float(x_t.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* st = conv_state.data<T>();
    T* yp = y.data<T>();
    const T* xp = x_t.data<T>();
    const T* wp = w.data<T>();
    const int64_t swe = w.stride(0), swk = w.stride(w.dim() - 1);
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t e = 0; e < E; ++e) {
        T* s = st + (bi * E + e) * K;
        for (int64_t k = 0; k + 1 < K; ++k) s[k] = s[k + 1];
        s[K - 1] = xp[bi * x_t.stride(0) + e * x_t.stride(1)];
        T acc = bias_at<T>(bias, e);
        for (int64_t k = 0; k < K; ++k) acc += wp[e * swe + k * swk] * s[k];
        yp[bi * E + e] = silu ? detail::silu(acc) : acc;
      }
  });
  return y;
}

}  // namespace mamba
