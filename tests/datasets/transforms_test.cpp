// transforms_test.cpp: the image transforms' arithmetic (bilinear resizing and center cropping
// against torch.nn.functional.interpolate and torchvision, values checked by
// tests/reference/check_transforms_torch.py), seeded randomness, and argument errors.
#include "datasets/transforms.h"
#include "datasets_test_util.h"

using namespace datasets;
using pm_test::throws_with;
using pm_test::tensors_close;
using tensor::Tensor;

namespace {
Tensor img(const std::vector<float>& v, int64_t c, int64_t h, int64_t w) { return tensor::from_vector<float>(v, {c, h, w}); }
Tensor ramp_u8(int64_t c, int64_t h, int64_t w) {
  Tensor t = Tensor::empty({c, h, w}, tensor::DType::UInt8);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(i % 251);
  return t;
}
}  // namespace

TEST(Transforms, ToFloatAndNormalize) {
  Rng rng(1, 2);
  Tensor u = Tensor::empty({2, 1, 2}, tensor::DType::UInt8);
  u.data<uint8_t>()[0] = 0, u.data<uint8_t>()[1] = 255, u.data<uint8_t>()[2] = 51, u.data<uint8_t>()[3] = 102;
  Tensor f = to_float()(u, rng);
  EXPECT_EQ(f.dtype(), tensor::DType::Float32);
  EXPECT_TRUE(tensors_close(f, img({0, 1, 0.2f, 0.4f}, 2, 1, 2)));
  Tensor n = normalize({0.5f, 0.2f}, {0.5f, 0.1f})(f, rng);
  EXPECT_TRUE(tensors_close(n, img({-1, 1, 0, 2}, 2, 1, 2)));
  EXPECT_TRUE(tensors_close(normalize({0.5f}, {0.5f})(f, rng), img({-1, 1, -0.6f, -0.2f}, 2, 1, 2)));
  EXPECT_TRUE(throws_with([&] { normalize({0.5f, 0.5f, 0.5f}, {1, 1, 1})(f, rng); }, {"normalize", "3 means/stds for a 2-channel image"}));
  EXPECT_TRUE(throws_with([&] { normalize({0.5f}, {0.5f})(u, rng); }, {"normalize", "apply to_float first"}));
  EXPECT_TRUE(throws_with([] { normalize({0.5f, 0.1f}, {0.5f}); }, {"normalize", "as many means as stds"}));
  EXPECT_TRUE(throws_with([] { normalize({0.5f}, {0.0f}); }, {"normalize", "non-zero"}));
  EXPECT_TRUE(throws_with([&] { to_float()(tensor::zeros({4, 4}), rng); }, {"to_float", "[C, H, W]", "[4, 4]"}));
}

TEST(Transforms, BilinearUpsampleMatchesInterpolate) {
  // F.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4), mode="bilinear", align_corners=False)
  Tensor out = resize_bilinear(img({0, 1, 2, 3}, 1, 2, 2), 4, 4);
  EXPECT_TRUE(tensors_close(out, img({0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f, 2.5f, 2, 2.25f, 2.75f, 3}, 1, 4, 4)));
  // Halving samples between pixel pairs: the mean of each 2x2 block.
  Tensor big = img({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 1, 4, 4);
  EXPECT_TRUE(tensors_close(resize_bilinear(big, 2, 2), img({2.5f, 4.5f, 10.5f, 12.5f}, 1, 2, 2)));
  // Same size is a copy; uint8 results are rounded.
  EXPECT_TRUE(tensors_close(resize_bilinear(big, 4, 4), big));
  Tensor u = Tensor::empty({1, 1, 2}, tensor::DType::UInt8);
  u.data<uint8_t>()[0] = 0, u.data<uint8_t>()[1] = 255;
  EXPECT_EQ(resize_bilinear(u, 1, 4).to_vector(), (std::vector<double>{0, 64, 191, 255}));
  Rng rng(0, 0);
  EXPECT_EQ(resize_shorter(8)(ramp_u8(3, 10, 20), rng).shape(), (tensor::Shape{3, 8, 16}));
  EXPECT_EQ(resize_shorter(8)(ramp_u8(3, 20, 10), rng).shape(), (tensor::Shape{3, 16, 8}));
}

TEST(Transforms, CenterCropFollowsTorchvision) {
  Rng rng(0, 0);
  Tensor t = img({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, 1, 4, 5);
  // (5 - 2) / 2 = 1.5 rounds to 2 (half to even), (4 - 2) / 2 = 1.
  EXPECT_TRUE(tensors_close(center_crop(2, 2)(t, rng), img({7, 8, 12, 13}, 1, 2, 2)));
  // Larger than the image: zero padding, the image placed at ((h - H) / 2, (w - W) / 2).
  Tensor small = img({1, 2, 3, 4}, 1, 2, 2);
  EXPECT_TRUE(tensors_close(center_crop(3, 4)(small, rng), img({0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0}, 1, 3, 4)));
  EXPECT_TRUE(tensors_close(crop(small, -1, 1, 2, 2, 9), img({9, 9, 2, 9}, 1, 2, 2)));
}

TEST(Transforms, FlipAndComposeAreSeeded) {
  Tensor t = ramp_u8(3, 4, 5);
  Rng a(7, 3);
  EXPECT_TRUE(tensors_close(horizontal_flip(1.0)(t, a), flip_horizontal(t)));
  EXPECT_EQ(flip_horizontal(t).at({1, 2, 0}), t.at({1, 2, 4}));
  EXPECT_TRUE(tensors_close(horizontal_flip(0.0)(t, a), t));
  Transform tr = compose({random_crop(3, 3, 1), horizontal_flip(), to_float()});
  for (uint64_t s = 0; s < 5; ++s) {
    Rng r1 = Rng::for_example(42, 1, s), r2 = Rng::for_example(42, 1, s);
    EXPECT_TRUE(tensors_close(tr(t, r1), tr(t, r2), 0, 0));
  }
  // Different examples get different crops (with overwhelming probability over 20 of them).
  int differ = 0;
  Rng r0 = Rng::for_example(42, 1, 0);
  const Tensor first = tr(t, r0);
  for (int64_t s = 1; s < 20; ++s) {
    Rng r = Rng::for_example(42, 1, s);
    differ += !tensors_close(tr(t, r), first, 0, 0);
  }
  EXPECT_GT(differ, 10);
}

TEST(Transforms, RandomCropStaysInsideThePaddedImage) {
  Tensor t = img(std::vector<float>(16, 1.0f), 1, 4, 4);
  for (int64_t s = 0; s < 50; ++s) {
    Rng r = Rng::for_example(1, 0, s);
    Tensor c = random_crop(4, 4, 2)(t, r);
    ASSERT_EQ(c.shape(), (tensor::Shape{1, 4, 4}));
    // Somewhere between fully inside (16 ones) and the corner case (4 ones).
    double ones = 0;
    for (double v : c.to_vector()) ones += v;
    EXPECT_GE(ones, 4);
    EXPECT_LE(ones, 16);
  }
  Rng r(0, 0);
  EXPECT_TRUE(throws_with([&] { random_crop(9, 9, 2)(t, r); }, {"random_crop", "9x9 is larger than the padded image 8x8"}));
  EXPECT_TRUE(throws_with([] { random_crop(2, 2, -1); }, {"random_crop", "padding must be >= 0"}));
}

TEST(Transforms, RandomResizedCrop) {
  Tensor t = ramp_u8(3, 40, 60);
  Transform rrc = random_resized_crop(24, 24, {0.25, 1.0});
  for (int64_t s = 0; s < 20; ++s) {
    Rng r1 = Rng::for_example(3, 0, s), r2 = Rng::for_example(3, 0, s);
    Tensor a = rrc(t, r1);
    EXPECT_EQ(a.shape(), (tensor::Shape{3, 24, 24}));
    EXPECT_EQ(a.dtype(), tensor::DType::UInt8);
    EXPECT_TRUE(tensors_close(a, rrc(t, r2), 0, 0));
  }
  // A ratio range the image cannot meet falls back to a centred crop of the allowed ratio.
  Transform wide = random_resized_crop(10, 10, {1.0, 1.0}, {3.0, 3.0});
  Rng r(0, 0);
  EXPECT_EQ(wide(t, r).shape(), (tensor::Shape{3, 10, 10}));
  EXPECT_TRUE(throws_with([] { random_resized_crop(8, 8, {0.5, 0.1}); }, {"random_resized_crop", "scale"}));
}

TEST(Transforms, VimEvalTransformResizesOnlyWhenNeeded) {
  const std::vector<float> mean = {0.485f, 0.456f, 0.406f}, std = {0.229f, 0.224f, 0.225f};
  Rng r(0, 0);
  Tensor t = ramp_u8(3, 28, 28);
  Tensor same = vim_eval_transform(28, mean, std)(t, r);
  Tensor manual = normalize(mean, std)(to_float()(t, r), r);
  EXPECT_TRUE(tensors_close(same, manual, 0, 0));
  Tensor up = vim_eval_transform(32, mean, std)(t, r);
  EXPECT_EQ(up.shape(), (tensor::Shape{3, 32, 32}));
  EXPECT_TRUE(tensors_close(up, normalize(mean, std)(resize_bilinear(to_float()(t, r), 32, 32), r)));
  EXPECT_TRUE(throws_with([&] { vim_eval_transform(28, mean, std)(ramp_u8(1, 28, 28), r); }, {"normalize", "3 means/stds for a 1-channel"}));
}

TEST(Transforms, ArgumentErrors) {
  Rng r(0, 0);
  EXPECT_TRUE(throws_with([] { resize(0, 4); }, {"resize", "must be positive", "0x4"}));
  EXPECT_TRUE(throws_with([] { horizontal_flip(1.5); }, {"horizontal_flip", "p must be in [0, 1]"}));
  EXPECT_TRUE(throws_with([&] { resize(2, 2)(tensor::zeros({1, 2, 2}, tensor::DType::Int64), r); }, {"resize", "uint8, float32 or float64", "int64"}));
  EXPECT_TRUE(throws_with([] { compose({to_float(), Transform()}); }, {"compose", "step 1 is empty"}));
}
