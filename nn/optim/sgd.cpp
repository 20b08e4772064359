// sgd.cpp: SGD's checks and update (in place, under NoGradGuard).
#include "nn/optim/sgd.h"

#include <sstream>
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "tensor/ops.h"

namespace nn::optim {

namespace {
std::map<std::string, double> sgd_defaults(const SGDOptions& o) {
  return {{"momentum", o.momentum}, {"dampening", o.dampening}, {"nesterov", o.nesterov ? 1.0 : 0.0}};
}
}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& d)
    : Optimizer("SGD", std::move(groups), d.lr, d.weight_decay, sgd_defaults(d)) {
  validate_all();
}

SGD::SGD(const std::vector<Variable>& params, const SGDOptions& d) : SGD(single_group(params), d) {}

void SGD::validate_group(const ParamGroup& g, size_t index) const {
  const double momentum = g.options.at("momentum"), dampening = g.options.at("dampening"),
               nesterov = g.options.at("nesterov");
  std::ostringstream os;
  os << "SGD: ";
  if (!(momentum >= 0)) {
    os << "momentum must be >= 0, got " << momentum;
  } else if (nesterov != 0 && nesterov != 1) {
    os << "nesterov must be 0 or 1, got " << nesterov;
  } else if (nesterov == 1 && (momentum <= 0 || dampening != 0)) {
    os << "nesterov needs momentum > 0 and dampening 0, got momentum " << momentum << " and dampening " << dampening;
  } else {
    return;
  }
  os << " in group " << index;
  throw std::invalid_argument(os.str());
}

std::vector<std::string> SGD::buffer_names(const ParamGroup& g) const {
  if (g.options.at("momentum") == 0) return {};
  return {"momentum_buffer"};
}

void SGD::step() {
  autograd::NoGradGuard no_grad;
  ++step_count_;
  auto& groups = param_groups();
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const ParamGroup& g = groups[gi];
    const double lr = *g.lr, wd = *g.weight_decay;
    const double momentum = g.options.at("momentum"), dampening = g.options.at("dampening");
    const bool nesterov = g.options.at("nesterov") != 0;
    for (size_t i = 0; i < g.params.size(); ++i) {
      const Variable& p = g.params[i];
      if (!p.grad().defined()) continue;
      const Tensor& param = p.data();
      Tensor d = p.grad();
      if (wd != 0) {
        d = d.clone();
        tensor::add_(d, param, wd);  // d = g + wd * p
      }
      ParamState& st = state(gi, i);
      ++st.step;
      if (momentum != 0) {
        auto it = st.buffers.find("momentum_buffer");
        if (it == st.buffers.end()) {
          it = st.buffers.emplace("momentum_buffer", d.clone()).first;
        } else {
          tensor::mul_(it->second, momentum);
          tensor::add_(it->second, d, 1.0 - dampening);
        }
        if (nesterov) {
          d = d.clone();
          tensor::add_(d, it->second, momentum);  // d = d + momentum * buf
        } else {
          d = it->second;
        }
      }
      tensor::add_(param, d, -lr);
    }
  }
}

}  // namespace nn::optim
