// adapter.cpp: the Adapter base (parameters, merge into a plain Linear, tensors in peft naming) and
// the shared LoRA branch.
#include "prodial/adapter.h"

#include <sstream>
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "nn/dropout.h"
#include "nn/init.h"
#include "prodial/functional.h"
#include "tensor/ops.h"

namespace prodial {

Adapter::Adapter(std::string type_name, std::string method, std::shared_ptr<nn::Linear> base)
    : nn::UnaryModule(std::move(type_name)), method_(std::move(method)) {
  if (!base) throw std::invalid_argument("Adapter(" + method_ + "): base Linear is null");
  in_ = base->in_features();
  out_ = base->out_features();
  register_module("base", std::move(base));
}

std::vector<std::pair<std::string, Variable>> Adapter::adapter_parameters() const {
  std::vector<std::pair<std::string, Variable>> out;
  for (auto& [name, v] : named_parameters())
    if (name.rfind("base.", 0) != 0) out.emplace_back(name, v);
  return out;
}

std::shared_ptr<nn::Linear> Adapter::merge() const {
  autograd::NoGradGuard no_grad;
  const auto b = base();
  const Variable w = b->weight();
  tensor::Generator scratch(0);  // the fresh layer's random init is overwritten; keep global streams untouched
  auto lin = std::make_shared<nn::Linear>(in_, out_, b->has_bias(), &scratch, w.dtype());
  lin->to(w.device());
  lin->weight().set_data(merged_weight().to(w.dtype()).contiguous());
  if (b->has_bias()) lin->bias().set_data(merged_bias().to(w.dtype()).contiguous());
  lin->requires_grad_(false);
  return lin;
}

Tensor Adapter::merged_bias() const {
  const auto b = base();
  return b->has_bias() ? b->bias().data().clone() : Tensor();
}

std::map<std::string, Tensor> Adapter::adapter_state() const {
  std::map<std::string, Tensor> out;
  for (auto& [name, v] : adapter_parameters()) out[name] = v.data();
  return out;
}

void Adapter::load_adapter_state(const std::map<std::string, Tensor>& state, const std::string& where) {
  const auto expected = adapter_state();
  for (auto& [name, t] : expected) {
    auto it = state.find(name);
    if (it == state.end())
      throw std::runtime_error(where + ": missing tensor " + name + " (" + type_name() + " adapter, expected shape " +
                               tensor::shape_str(t.shape()) + ")");
    if (it->second.shape() != t.shape())
      throw std::runtime_error(where + ": tensor " + name + " has shape " + tensor::shape_str(it->second.shape()) +
                               ", the model's " + type_name() + " adapter expects " + tensor::shape_str(t.shape()));
  }
  for (auto& [name, t] : state)
    if (!expected.count(name))
      throw std::runtime_error(where + ": unexpected tensor " + name + " for a " + type_name() + " adapter");
  for (auto& [name, t] : state) {
    const Variable p = parameter(name);
    p.set_data(t.to(p.dtype()).to(p.device()).contiguous());
  }
}

LoraBranch::LoraBranch(nn::Module& owner, int64_t d_in, int64_t d_out, int64_t rank, double alpha, double dropout,
                       tensor::Generator* gen, std::shared_ptr<tensor::Generator> dropout_gen, tensor::DType dtype)
    : rank_(rank), alpha_(alpha), dropout_(dropout), dropout_gen_(std::move(dropout_gen)) {
  if (rank <= 0) throw std::invalid_argument("LoRA: rank must be positive, got " + std::to_string(rank));
  if (!(dropout >= 0.0 && dropout < 1.0))
    throw std::invalid_argument("LoRA: dropout must be in [0, 1), got " + std::to_string(dropout));
  A_ = owner.register_module("lora_A", std::make_shared<nn::Linear>(d_in, rank, false, gen, dtype));  // kaiming(a=√5)
  B_ = owner.register_module("lora_B", std::make_shared<nn::Linear>(rank, d_out, false, gen, dtype));
  nn::init::zeros_(B_->weight().data());
}

Variable LoraBranch::dropped(const Variable& x, bool training) const {
  if (!training || dropout_ == 0.0) return x;
  return nn::dropout(x, dropout_, true, dropout_gen_.get());
}

Variable LoraBranch::apply(const Variable& xd) const { return lora_branch(xd, A(), B(), scale()); }

std::string lora_repr(const LoraBranch& lora) {
  auto num = [](double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  };
  return "r=" + std::to_string(lora.rank()) + ", alpha=" + num(lora.alpha()) + ", dropout=" + num(lora.dropout());
}

Tensor LoraBranch::delta() const { return lora_delta(A().data(), B().data(), scale()); }

}  // namespace prodial
