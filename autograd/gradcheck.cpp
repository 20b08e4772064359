// gradcheck.cpp: finite-difference gradient checking and the op-case registry.
#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/grad_mode.h"
#include "autograd/op_cases.h"
#include "tensor/ops/creation.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/reduce.h"

namespace autograd {

std::vector<OpCase>& op_cases() {
  static std::vector<OpCase> cases;
  return cases;
}

InputMaker normal_inputs(std::vector<tensor::Shape> shapes) {
  return [shapes](tensor::Generator& g) {
    std::vector<Tensor> out;
    for (const auto& s : shapes) out.push_back(tensor::randn(s, tensor::DType::Float64, &g));
    return out;
  };
}

InputMaker uniform_inputs(std::vector<tensor::Shape> shapes, double lo, double hi) {
  return [=](tensor::Generator& g) {
    std::vector<Tensor> out;
    for (const auto& s : shapes) out.push_back(tensor::rand(s, tensor::DType::Float64, &g, lo, hi));
    return out;
  };
}

Tensor noncontiguous_copy(const Tensor& t) {
  tensor::Shape wide = t.shape();
  if (wide.empty()) wide = {1};
  wide.back() *= 2;
  Tensor buf = tensor::zeros(wide, t.dtype(), t.device());
  Tensor view = buf.slice(-1, 0, wide.back(), 2);
  if (t.dim() == 0) view = view.view({});
  view.copy_(t);
  return view;
}

namespace {
// <w, f(x)> with no graph.
double project(const OpFn& f, const std::vector<Variable>& vars, const Tensor& w) {
  NoGradGuard ng;
  Variable y = f(vars);
  return tensor::sum(tensor::mul(y.data().to(tensor::DType::Float64), w)).item<double>();
}

// The offset (in elements) of flat row-major element i of t within its storage.
int64_t storage_index(const Tensor& t, int64_t i) {
  int64_t off = t.offset();
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    off += (i % t.size(d)) * t.stride(d);
    i /= t.size(d);
  }
  return off;
}
}  // namespace

GradcheckResult gradcheck(const OpFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opt,
                          const std::vector<bool>& wrt) {
  GradcheckResult res;
  std::vector<Variable> vars;
  std::vector<bool> check(inputs.size(), false);
  for (size_t i = 0; i < inputs.size(); ++i) {
    bool is_float = tensor::is_floating(inputs[i].dtype());
    if (is_float && inputs[i].dtype() != tensor::DType::Float64)
      throw std::invalid_argument("gradcheck: float input " + std::to_string(i) + " must be float64");
    check[i] = is_float && (wrt.empty() || (i < wrt.size() && wrt[i]));
    vars.emplace_back(inputs[i], check[i]);
  }

  Variable y = f(vars);
  if (!y.requires_grad()) {
    res.ok = false;
    res.message = "output does not require grad";
    return res;
  }
  tensor::Generator gen(opt.seed);
  Tensor w = tensor::randn(y.shape(), tensor::DType::Float64, &gen);
  y.backward(w.to(y.dtype()));

  std::ostringstream worst;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!check[i]) continue;
    const Tensor& x = inputs[i];
    Tensor analytical = vars[i].grad().defined() ? vars[i].grad().contiguous() : tensor::zeros(x.shape(), x.dtype());
    if (analytical.shape() != x.shape()) {
      res.ok = false;
      res.message = "input " + std::to_string(i) + ": gradient shape " + tensor::shape_str(analytical.shape()) +
                    " != input shape " + tensor::shape_str(x.shape());
      return res;
    }
    const double* a = analytical.data<double>();
    double* base = static_cast<double*>(x.storage()->data());
    for (int64_t j = 0; j < x.numel(); ++j) {
      double* p = base + storage_index(x, j);
      double orig = *p;
      *p = orig + opt.eps;
      double fp = project(f, vars, w);
      *p = orig - opt.eps;
      double fm = project(f, vars, w);
      *p = orig;
      double num = (fp - fm) / (2 * opt.eps);
      double ratio = std::fabs(a[j] - num) / (opt.atol + opt.rtol * std::fabs(num));
      if (!(ratio <= res.worst_ratio) || std::isnan(ratio)) {
        res.worst_ratio = std::isnan(ratio) ? INFINITY : ratio;
        worst.str("");
        worst << "input " << i << " " << tensor::shape_str(x.shape()) << " element " << j << ": analytical "
              << a[j] << ", numerical " << num << " (|diff| " << std::fabs(a[j] - num) << ")";
      }
    }
  }
  res.ok = res.worst_ratio <= 1.0;
  res.message = worst.str();
  return res;
}

}  // namespace autograd
