// mlp_fit.cpp: the smallest complete use of the engine: fit a two-layer MLP to a noisy 2-d
// function by full-batch gradient descent and print the loss curve. Runs in about a second.
//
//   mlp_fit [--steps N] [--hidden H] [--lr LR] [--seed S]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "autograd/ops.h"
#include "tensor/ops.h"

using autograd::Variable;
using tensor::DType;
using tensor::Tensor;

namespace {
void usage() {
  std::printf("usage: mlp_fit [--steps N] [--hidden H] [--lr LR] [--seed S]\n"
              "Fits y = sin(2 x0) + 0.5 x1^2 + noise with a 2-H-1 tanh MLP by gradient descent and\n"
              "prints the training loss every 10%% of the steps; the last line is a JSON summary.\n");
}
}  // namespace

int main(int argc, char** argv) {
  int steps = 2000, hidden = 32;
  double lr = 0.1;  // full-batch GD on this problem diverges above about 0.15 at H = 64
  uint64_t seed = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "mlp_fit: %s needs a value\n", flag);
        std::exit(2);
      }
      return argv[++i];
    };
    try {
      if (a == "--help" || a == "-h") {
        usage();
        return 0;
      } else if (a == "--steps") {
        steps = std::stoi(value("--steps"));
      } else if (a == "--hidden") {
        hidden = std::stoi(value("--hidden"));
      } else if (a == "--lr") {
        lr = std::stod(value("--lr"));
      } else if (a == "--seed") {
        seed = std::stoull(value("--seed"));
      } else {
        std::fprintf(stderr, "mlp_fit: unknown flag '%s' (see --help)\n", a.c_str());
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "mlp_fit: flag %s has a bad value\n", a.c_str());
      return 2;
    }
  }
  if (steps <= 0 || hidden <= 0 || !(lr > 0)) {
    std::fprintf(stderr, "mlp_fit: --steps, --hidden and --lr must be positive\n");
    return 2;
  }

  tensor::Generator gen(seed);
  const int64_t n = 512;
  Tensor x = tensor::rand({n, 2}, DType::Float32, &gen, -1, 1);
  Tensor noise = tensor::randn({n, 1}, DType::Float32, &gen, 0, 0.01);
  auto xv = x.to_vector();
  std::vector<float> yv(n);
  for (int64_t i = 0; i < n; ++i) yv[i] = static_cast<float>(std::sin(2 * xv[2 * i]) + 0.5 * xv[2 * i + 1] * xv[2 * i + 1]);
  Tensor y = tensor::add(tensor::from_vector(yv, {n, 1}), noise);

  // Parameters, initialised like PyTorch's default for Linear layers (uniform +-1/sqrt(fan_in)).
  const double k1 = 1 / std::sqrt(2.0), k2 = 1 / std::sqrt(static_cast<double>(hidden));
  Variable w1(tensor::rand({2, hidden}, DType::Float32, &gen, -k1, k1), true);
  Variable b1(tensor::rand({hidden}, DType::Float32, &gen, -k1, k1), true);
  Variable w2(tensor::rand({hidden, 1}, DType::Float32, &gen, -k2, k2), true);
  Variable b2(tensor::rand({1}, DType::Float32, &gen, -k2, k2), true);
  const Variable params[] = {w1, b1, w2, b2};

  const Variable input(x), target(y);
  double loss_value = 0;
  for (int step = 1; step <= steps; ++step) {
    Variable hid = autograd::tanh(autograd::matmul(input, w1) + b1);  // [n, H]
    Variable pred = autograd::matmul(hid, w2) + b2;                   // [n, 1]
    Variable loss = autograd::mean(autograd::square(pred - target));
    loss_value = loss.item<double>();
    for (const auto& p : params) p.zero_grad();
    loss.backward();
    {
      autograd::NoGradGuard no_grad;
      for (const auto& p : params) tensor::add_(p.data(), p.grad(), -lr);
    }
    if (step == 1 || step % std::max(1, steps / 10) == 0) std::printf("step %5d  loss %.6f\n", step, loss_value);
  }
  std::printf("{\"final_loss\": %.6f, \"steps\": %d, \"hidden\": %d}\n", loss_value, steps, hidden);
  return 0;
}
