// init.cpp: the initialisers of init.h. Random draws come from tensor::rand / tensor::randn in the
// tensor's own dtype (trunc_normal_ draws in float64 and converts), then are copied into place.
#include "nn/init.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "tensor/ops.h"

namespace nn::init {

namespace {

void check_float(const char* op, const Tensor& t) {
  tensor::check_defined(op, t, "input");
  if (!tensor::is_floating(t.dtype()))
    throw std::invalid_argument(std::string(op) + ": expected a float32 or float64 tensor, got " +
                                tensor::dtype_name(t.dtype()));
}

double fan_of(const char* op, const Tensor& t, FanMode mode) {
  check_float(op, t);
  Fans f = fan_in_and_fan_out(t.shape());
  int64_t fan = mode == FanMode::FanIn ? f.fan_in : f.fan_out;
  if (fan <= 0)
    throw std::invalid_argument(std::string(op) + ": tensor of shape " + tensor::shape_str(t.shape()) +
                                " has fan 0 (an empty dimension)");
  return static_cast<double>(fan);
}

double norm_cdf(double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); }

}  // namespace

Fans fan_in_and_fan_out(const tensor::Shape& shape) {
  if (shape.size() < 2)
    throw std::invalid_argument("init::fan_in_and_fan_out: needs a tensor with at least 2 dims, got shape " +
                                tensor::shape_str(shape));
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

double calculate_gain(const std::string& nl, double param) {
  if (nl == "linear" || nl == "conv1d" || nl == "conv2d" || nl == "conv3d" || nl == "sigmoid") return 1.0;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nl == "selu") return 3.0 / 4.0;
  throw std::invalid_argument("init::calculate_gain: unknown nonlinearity '" + nl +
                              "' (expected linear, conv1d, conv2d, conv3d, sigmoid, tanh, relu, leaky_relu or selu)");
}

void zeros_(const Tensor& t) { constant_(t, 0.0); }
void ones_(const Tensor& t) { constant_(t, 1.0); }

void constant_(const Tensor& t, double value) {
  tensor::check_defined("init::constant_", t, "input");
  t.fill_(value);
}

void uniform_(const Tensor& t, Generator* gen, double low, double high) {
  check_float("init::uniform_", t);
  if (!(low <= high))
    throw std::invalid_argument("init::uniform_: need low <= high, got [" + std::to_string(low) + ", " +
                                std::to_string(high) + ")");
  t.copy_(tensor::rand(t.shape(), t.dtype(), gen, low, high, t.device()));
}

void normal_(const Tensor& t, Generator* gen, double mean, double std) {
  check_float("init::normal_", t);
  if (!(std >= 0)) throw std::invalid_argument("init::normal_: std must be >= 0, got " + std::to_string(std));
  t.copy_(tensor::randn(t.shape(), t.dtype(), gen, mean, std, t.device()));
}

void trunc_normal_(const Tensor& t, Generator* gen, double mean, double std, double a, double b) {
  check_float("init::trunc_normal_", t);
  if (!(std > 0)) throw std::invalid_argument("init::trunc_normal_: std must be > 0, got " + std::to_string(std));
  if (!(a < b))
    throw std::invalid_argument("init::trunc_normal_: need a < b, got a = " + std::to_string(a) +
                                ", b = " + std::to_string(b));
  const double lo = 2 * norm_cdf((a - mean) / std) - 1, hi = 2 * norm_cdf((b - mean) / std) - 1;
  Tensor u = tensor::rand(t.shape(), tensor::DType::Float64, gen, lo, hi);
  double* p = u.data<double>();
  for (int64_t i = 0; i < u.numel(); ++i) {
    double v = mean + std * std::sqrt(2.0) * erfinv(p[i]);
    p[i] = std::min(b, std::max(a, v));
  }
  t.copy_(u.to(t.dtype()).to(t.device()));
}

void kaiming_uniform_(const Tensor& t, Generator* gen, double a, FanMode mode, const std::string& nonlinearity) {
  double fan = fan_of("init::kaiming_uniform_", t, mode);
  double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / fan);
  uniform_(t, gen, -bound, bound);
}

void kaiming_normal_(const Tensor& t, Generator* gen, double a, FanMode mode, const std::string& nonlinearity) {
  double fan = fan_of("init::kaiming_normal_", t, mode);
  normal_(t, gen, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(fan));
}

void xavier_uniform_(const Tensor& t, Generator* gen, double gain) {
  check_float("init::xavier_uniform_", t);
  Fans f = fan_in_and_fan_out(t.shape());
  double bound = gain * std::sqrt(6.0 / static_cast<double>(f.fan_in + f.fan_out));
  uniform_(t, gen, -bound, bound);
}

void xavier_normal_(const Tensor& t, Generator* gen, double gain) {
  check_float("init::xavier_normal_", t);
  Fans f = fan_in_and_fan_out(t.shape());
  normal_(t, gen, 0.0, gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out)));
}

void lecun_normal_(const Tensor& t, Generator* gen) {
  double fan = fan_of("init::lecun_normal_", t, FanMode::FanIn);
  trunc_normal_(t, gen, 0.0, std::sqrt(1.0 / fan) / 0.87962566103423978, -2.0, 2.0);
}

// Giles' single-precision polynomial ("Approximating the erfinv function", GPU Computing Gems, 2011)
// as the starting point, then two Newton steps on erf(x) - y, which bring it to double precision.
double erfinv(double y) {
  if (std::isnan(y) || y < -1 || y > 1) return std::numeric_limits<double>::quiet_NaN();
  if (y == 1) return std::numeric_limits<double>::infinity();
  if (y == -1) return -std::numeric_limits<double>::infinity();
  double w = -std::log((1.0 - y) * (1.0 + y)), p;
  if (w < 5.0) {
    w -= 2.5;
    p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = std::sqrt(w) - 3.0;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  double x = p * y;
  const double two_over_sqrt_pi = 2.0 / std::sqrt(M_PI);
  for (int i = 0; i < 2; ++i) {
    double slope = two_over_sqrt_pi * std::exp(-x * x);
    if (slope == 0) break;  // |x| > ~27: erf is 1 to double precision already
    double next = x - (std::erf(x) - y) / slope;
    if (!std::isfinite(next)) break;
    x = next;
  }
  return x;
}

}  // namespace nn::init
