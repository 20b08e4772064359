// init.h: parameter initialisers with PyTorch's formulas (torch.nn.init), each filling a float tensor
// in place from a seeded tensor::Generator (nullptr: the default generator). The random streams are
// our Philox ones, so values differ from PyTorch's, but the distributions are the same.
#pragma once
#include <cstdint>
#include <string>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace nn::init {

using tensor::Generator;
using tensor::Tensor;

enum class FanMode { FanIn, FanOut };

// torch.nn.init._calculate_fan_in_and_fan_out: for a weight [out, in, *kernel], fan_in = in * prod(kernel)
// and fan_out = out * prod(kernel). Needs at least 2 dims.
struct Fans {
  int64_t fan_in = 0, fan_out = 0;
};
Fans fan_in_and_fan_out(const tensor::Shape& shape);

// torch.nn.init.calculate_gain: "linear", "conv1d", "conv2d", "sigmoid" -> 1, "tanh" -> 5/3, "relu" -> sqrt 2,
// "leaky_relu" -> sqrt(2 / (1 + param^2)), "selu" -> 3/4.
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

void zeros_(const Tensor& t);
void ones_(const Tensor& t);
void constant_(const Tensor& t, double value);
// U(low, high).
void uniform_(const Tensor& t, Generator* gen, double low = 0.0, double high = 1.0);
// N(mean, std^2).
void normal_(const Tensor& t, Generator* gen, double mean = 0.0, double std = 1.0);
// N(mean, std^2) truncated to [a, b] by inverse-CDF sampling, as torch.nn.init.trunc_normal_: draw u
// uniformly between Phi((a-mean)/std) and Phi((b-mean)/std) and return mean + std * Phi^-1(u),
// clamped to [a, b]. a and b are absolute bounds (not in units of std).
void trunc_normal_(const Tensor& t, Generator* gen, double mean = 0.0, double std = 1.0, double a = -2.0,
                   double b = 2.0);
// U(-bound, bound), bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).
// nn.Linear and nn.Conv*d use a = sqrt(5) (bound = 1 / sqrt(fan_in)).
void kaiming_uniform_(const Tensor& t, Generator* gen, double a = 0.0, FanMode mode = FanMode::FanIn,
                      const std::string& nonlinearity = "leaky_relu");
// N(0, std^2), std = gain / sqrt(fan).
void kaiming_normal_(const Tensor& t, Generator* gen, double a = 0.0, FanMode mode = FanMode::FanIn,
                     const std::string& nonlinearity = "leaky_relu");
// U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)).
void xavier_uniform_(const Tensor& t, Generator* gen, double gain = 1.0);
// N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
void xavier_normal_(const Tensor& t, Generator* gen, double gain = 1.0);
// LeCun normal as timm's lecun_normal_ (variance_scaling_ with scale 1, fan_in, truncated normal),
// the initialiser Vision Mamba uses for its patch embedding: trunc_normal_ with mean 0,
// std = sqrt(1 / fan_in) / 0.87962566103423978 (the std of a unit normal truncated to [-2, 2]) and
// timm's absolute bounds [-2, 2].
void lecun_normal_(const Tensor& t, Generator* gen);

// The inverse error function in double precision (|y| < 1; +-inf at +-1).
double erfinv(double y);

}  // namespace nn::init
