// dropout.cpp: the dropout mask (uniform draw compared with 1 - p) and the Dropout layer.
#include "nn/dropout.h"

#include <sstream>

#include "autograd/ops.h"
#include "tensor/ops.h"

namespace nn {

namespace {
void check_p(const char* op, double p) {
  if (!(p >= 0.0 && p <= 1.0)) {
    std::ostringstream os;
    os << op << ": p must be in [0, 1], got " << p;
    throw std::invalid_argument(os.str());
  }
}
}  // namespace

Variable dropout(const Variable& x, double p, bool training, tensor::Generator* gen) {
  check_p("dropout", p);
  if (!x.defined()) throw std::invalid_argument("dropout: input is undefined");
  if (!training || p == 0.0) return x;
  const tensor::DType dt = x.dtype();
  Tensor scale;
  if (p == 1.0) {
    scale = tensor::zeros(x.shape(), dt, x.device());
  } else {
    Tensor u = tensor::rand(x.shape(), dt, gen, 0.0, 1.0, x.device());
    Tensor keep = tensor::compare(tensor::CompareOp::Lt, u, tensor::scalar_tensor(1.0 - p, dt, x.device()));
    scale = tensor::where(keep, tensor::scalar_tensor(1.0 / (1.0 - p), dt, x.device()),
                          tensor::scalar_tensor(0.0, dt, x.device()));
  }
  return autograd::mul(x, Variable(scale));
}

Dropout::Dropout(double p, std::shared_ptr<tensor::Generator> gen) : UnaryModule("Dropout"), p_(p), gen_(std::move(gen)) {
  check_p("Dropout", p);
}

tensor::Generator& Dropout::generator() const { return gen_ ? *gen_ : tensor::default_generator(); }

Variable Dropout::forward(const Variable& x) { return dropout(x, p_, is_training(), &generator()); }

std::string Dropout::extra_repr() const {
  std::ostringstream os;
  os << "p=" << p_;
  return os.str();
}

}  // namespace nn
