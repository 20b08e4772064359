// loss_test.cpp: cross_entropy over [..., C] logits (ignore_index, label smoothing) and mse_loss
// against PyTorch fixtures, and their shape/dtype errors.
#include "nn/loss.h"

#include "autograd/ops.h"
#include "fixtures.h"

namespace {

using autograd::Variable;
using nn_test::layers;
using pm_test::tensors_close;
using pm_test::throws_with;
using tensor::DType;
using tensor::Tensor;

TEST(Loss, CrossEntropyOverSequenceLogitsMatchesPyTorch) {
  auto opt_json = layers().options("cross_entropy");
  tensor::CrossEntropyOptions opt;
  opt.ignore_index = opt_json["ignore_index"];
  opt.label_smoothing = opt_json["label_smoothing"];
  Variable x(layers()["cross_entropy.x"], true);
  Variable loss = nn::cross_entropy(x, layers()["cross_entropy.target"], opt);
  EXPECT_EQ(loss.dim(), 0);
  EXPECT_TRUE(tensors_close(loss.data(), layers()["cross_entropy.out"], 1e-10, 1e-12));
  loss.backward(layers()["cross_entropy.grad_out"]);
  EXPECT_EQ(x.grad().shape(), (tensor::Shape{2, 3, 5}));
  EXPECT_TRUE(tensors_close(x.grad(), layers()["cross_entropy.grad_x"], 1e-10, 1e-12));
}

TEST(Loss, MseMeanAndSumMatchPyTorch) {
  for (auto [c, r] : {std::pair<const char*, nn::Reduction>{"mse.mean", nn::Reduction::Mean},
                      std::pair<const char*, nn::Reduction>{"mse.sum", nn::Reduction::Sum}}) {
    const std::string p = c;
    Variable x(layers()[p + ".x"], true), t(layers()[p + ".target"], true);
    Variable loss = nn::mse_loss(x, t, r);
    EXPECT_TRUE(tensors_close(loss.data(), layers()[p + ".out"], 1e-12, 1e-14)) << p;
    loss.backward(layers()[p + ".grad_out"]);
    EXPECT_TRUE(tensors_close(x.grad(), layers()[p + ".grad_x"], 1e-12, 1e-14)) << p;
    EXPECT_TRUE(tensors_close(t.grad(), layers()[p + ".grad_target"], 1e-12, 1e-14)) << p;
  }
}

TEST(Loss, MseNoneKeepsTheShape) {
  Variable x(tensor::from_vector<double>({1, 2, 3}, {3})), t(tensor::from_vector<double>({1, 0, 5}, {3}));
  EXPECT_EQ(nn::mse_loss(x, t, nn::Reduction::None).data().to_vector(), (std::vector<double>{0, 4, 4}));
}

TEST(Loss, CrossEntropyOnASingleSample) {
  Variable x(tensor::from_vector<double>({0.0, 0.0, 0.0, 0.0}, {4}));
  Variable loss = nn::cross_entropy(x, tensor::full({}, 2, DType::Int64));
  EXPECT_NEAR(loss.item<double>(), std::log(4.0), 1e-12);
}

TEST(Loss, Errors) {
  Variable logits(tensor::zeros({2, 3, 5}));
  EXPECT_TRUE(throws_with([&] { nn::cross_entropy(logits, tensor::zeros({6}, DType::Int64)); },
                          {"cross_entropy: logits of shape [2, 3, 5] need targets of shape [2, 3], got [6]"}));
  EXPECT_TRUE(throws_with([&] { nn::cross_entropy(logits, tensor::zeros({2, 3})); },
                          {"cross_entropy: targets must be int64, got float32"}));
  EXPECT_TRUE(throws_with([&] { nn::cross_entropy(Variable(tensor::zeros({})), tensor::zeros({}, DType::Int64)); },
                          {"cross_entropy: logits must have a class dim, got a 0-d tensor"}));
  EXPECT_TRUE(throws_with([&] { nn::cross_entropy(Variable(), tensor::zeros({}, DType::Int64)); },
                          {"cross_entropy: logits are undefined"}));
  EXPECT_TRUE(throws_with([&] { nn::cross_entropy(logits, Tensor()); }, {"cross_entropy: target tensor is undefined"}));
  EXPECT_TRUE(throws_with([&] { nn::mse_loss(Variable(tensor::zeros({3})), Variable(tensor::zeros({3, 1}))); },
                          {"mse_loss: input of shape [3] and target of shape [3, 1] differ"}));
  EXPECT_TRUE(throws_with([&] { nn::mse_loss(Variable(), Variable(tensor::zeros({3}))); },
                          {"mse_loss: input and target must be defined"}));
}

}  // namespace
