// block.cpp: MambaBlock (residual add, RMSNorm, mixer) and drop_path.
#include "mamba/block.h"

#include "autograd/ops.h"
#include "nn/norm.h"
#include "tensor/ops.h"

namespace mamba {

namespace ag = autograd;

Variable drop_path(const Variable& x, double p, bool training, tensor::Generator* gen) {
  if (!training || p <= 0.0) return x;
  if (p >= 1.0) throw std::invalid_argument("drop_path: p must be < 1, got " + std::to_string(p));
  tensor::Shape ms(static_cast<size_t>(x.dim()), 1);
  ms[0] = x.size(0);
  // keep a sample when its uniform draw is >= p; kept samples are scaled by 1 / (1 - p)
  Tensor r = tensor::rand(ms, x.dtype(), gen, 0.0, 1.0, x.data().device());  // same draws on every device
  Tensor keep = tensor::compare(tensor::CompareOp::Ge, r, tensor::full_like(r, p)).to(x.dtype());
  return ag::mul(x, Variable(tensor::mul(keep, 1.0 / (1.0 - p))));
}

MambaBlock::MambaBlock(const MixerConfig& cfg, double norm_eps, tensor::Generator* gen, tensor::DType dtype)
    : nn::Module("MambaBlock") {
  register_module("norm", std::make_shared<nn::RMSNorm>(cfg.d_model, norm_eps, dtype));
  register_module("mixer", std::make_shared<MambaMixer>(cfg, gen, dtype));
}

std::pair<Variable, Variable> MambaBlock::forward(const Variable& hidden, const Variable& residual, LayerState* cache) {
  Variable res = residual.defined() ? ag::add(residual, drop_path(hidden, drop_path_, is_training(), drop_gen_.get()))
                                    : hidden;
  Variable normed = child<nn::UnaryModule>("norm")->forward(res);
  return {child<MambaMixer>("mixer")->forward(normed, cache), res};
}

std::pair<Tensor, Tensor> MambaBlock::step(const Tensor& hidden, const Tensor& residual, LayerState& state) {
  ag::NoGradGuard ng;
  Tensor res = residual.defined() ? tensor::add(residual, hidden) : hidden;
  Tensor normed = child<nn::UnaryModule>("norm")->forward(Variable(res)).data();
  return {child<MambaMixer>("mixer")->step(normed, state), res};
}

}  // namespace mamba
