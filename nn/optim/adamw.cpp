// adamw.cpp: AdamW's checks and update (in place, under NoGradGuard), mirroring PyTorch's
// single-tensor implementation term by term (fused in tensor::adamw_update_) so float64 trajectories
// agree to rounding.
#include "nn/optim/adamw.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "tensor/ops.h"

namespace nn::optim {

namespace {
std::map<std::string, double> adamw_defaults(const AdamWOptions& o) {
  return {{"beta1", o.beta1}, {"beta2", o.beta2}, {"eps", o.eps}};
}
}  // namespace

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& d)
    : Optimizer("AdamW", std::move(groups), d.lr, d.weight_decay, adamw_defaults(d)) {
  validate_all();
}

AdamW::AdamW(const std::vector<Variable>& params, const AdamWOptions& d) : AdamW(single_group(params), d) {}

void AdamW::validate_group(const ParamGroup& g, size_t index) const {
  const double b1 = g.options.at("beta1"), b2 = g.options.at("beta2"), eps = g.options.at("eps");
  std::ostringstream os;
  os << "AdamW: ";
  if (!(b1 >= 0 && b1 < 1)) {
    os << "beta1 must be in [0, 1), got " << b1;
  } else if (!(b2 >= 0 && b2 < 1)) {
    os << "beta2 must be in [0, 1), got " << b2;
  } else if (!(eps >= 0)) {
    os << "eps must be >= 0, got " << eps;
  } else {
    return;
  }
  os << " in group " << index;
  throw std::invalid_argument(os.str());
}

void AdamW::step() {
  autograd::NoGradGuard no_grad;
  ++step_count_;
  auto& groups = param_groups();
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const ParamGroup& g = groups[gi];
    const double lr = *g.lr, wd = *g.weight_decay;
    const double b1 = g.options.at("beta1"), b2 = g.options.at("beta2"), eps = g.options.at("eps");
    for (size_t i = 0; i < g.params.size(); ++i) {
      const Variable& p = g.params[i];
      if (!p.grad().defined()) continue;
      const Tensor& param = p.data();
      const Tensor& grad = p.grad();
      ParamState& st = state(gi, i);
      if (st.buffers.empty()) {
        st.buffers["exp_avg"] = tensor::zeros_like(param);
        st.buffers["exp_avg_sq"] = tensor::zeros_like(param);
      }
      const Tensor& m = st.buffers["exp_avg"];
      const Tensor& v = st.buffers["exp_avg_sq"];
      tensor::AdamWStep s;
      s.lr = lr, s.weight_decay = wd, s.beta1 = b1, s.beta2 = b2, s.eps = eps, s.step = ++st.step;
      tensor::adamw_update_(param, grad, m, v, s);  // PyTorch's formula, fused into one pass
    }
  }
}

}  // namespace nn::optim
