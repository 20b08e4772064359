// idx_test.cpp: IDX reading (raw and .gz) on committed MNIST / Fashion-MNIST slices, and every
// malformed-file error (the full installed sets: installed_data_slow_test.cpp).
#include "datasets/errors.h"
#include "datasets/file_io.h"
#include "datasets/idx.h"
#include "datasets_test_util.h"

using namespace datasets;
using pm_test::fixture;
using pm_test::throws_with;

TEST(Idx, ReadsRawMnistSlice) {
  tensor::Tensor imgs = read_idx(fixture("mnist-8-images-idx3-ubyte"));
  EXPECT_EQ(imgs.dtype(), tensor::DType::UInt8);
  EXPECT_EQ(imgs.shape(), (tensor::Shape{8, 28, 28}));
  tensor::Tensor labs = read_idx(fixture("mnist-8-labels-idx1-ubyte"));
  EXPECT_EQ(labs.shape(), (tensor::Shape{8}));
  // The first eight MNIST training labels.
  EXPECT_EQ(labs.to_vector(), (std::vector<double>{5, 0, 4, 1, 9, 2, 1, 3}));
  // Ink sums are a fingerprint of the images (the border is blank, the centre is not).
  double border = 0;
  for (int i = 0; i < 28; ++i) border += imgs.at({0, 0, i}) + imgs.at({0, 27, i});
  EXPECT_EQ(border, 0);
  EXPECT_GT(imgs.at({0, 14, 14}) + imgs.at({0, 13, 14}) + imgs.at({0, 14, 13}), 0);
}

TEST(Idx, ReadsGzippedFashionSlice) {
  IdxImages src(fixture("fashion-8-images-idx3-ubyte.gz"), fixture("fashion-8-labels-idx1-ubyte.gz"), fashion_mnist_class_names());
  EXPECT_EQ(src.size(), 8);
  EXPECT_EQ(src.num_classes(), 10);
  EXPECT_EQ(src.class_names()[9], "Ankle boot");
  // The first Fashion-MNIST test item is an ankle boot.
  EXPECT_EQ(src.get(0).label, 9);
  EXPECT_EQ(src.get(0).image.shape(), (tensor::Shape{1, 28, 28}));
  EXPECT_EQ(src.labels(), (std::vector<int64_t>{9, 2, 1, 1, 6, 1, 4, 6}));
}

TEST(Idx, ChannelConversion) {
  IdxImages grey(fixture("mnist-8-images-idx3-ubyte"), fixture("mnist-8-labels-idx1-ubyte"));
  IdxImages rgb(fixture("mnist-8-images-idx3-ubyte"), fixture("mnist-8-labels-idx1-ubyte"), {}, 3);
  EXPECT_EQ(grey.class_names(), (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  const auto g = grey.get(3).image, c = rgb.get(3).image;
  EXPECT_EQ(c.shape(), (tensor::Shape{3, 28, 28}));
  for (int ch = 0; ch < 3; ++ch) EXPECT_TRUE(pm_test::tensors_close(c.select(0, ch).contiguous(), g.select(0, 0).contiguous(), 0, 0));
  EXPECT_TRUE(throws_with([&] { grey.get(8); }, {"IdxImages::get", "index 8", "8 examples"}));
  EXPECT_TRUE(throws_with([&] { IdxImages(fixture("mnist-8-images-idx3-ubyte"), fixture("mnist-8-labels-idx1-ubyte"), {}, 2); },
                          {"channels must be 0", "got 2"}));
}

TEST(Idx, OtherElementTypes) {
  pm_test::TempDir dir;
  // int16 [2, 2] big-endian, and float64 [1].
  pm_test::write_text(dir / "a.idx", std::string("\0\0\x0b\x02\0\0\0\x02\0\0\0\x02\xff\xfe\0\x07\x01\0\x80\0", 20));
  tensor::Tensor a = read_idx(dir / "a.idx");
  EXPECT_EQ(a.dtype(), tensor::DType::Int32);
  EXPECT_EQ(a.to_vector(), (std::vector<double>{-2, 7, 256, -32768}));
  pm_test::write_text(dir / "b.idx", std::string("\0\0\x0e\x01\0\0\0\x01\x40\x09\x21\xfb\x54\x44\x2d\x18", 16));
  EXPECT_DOUBLE_EQ(read_idx(dir / "b.idx").to_vector()[0], 3.141592653589793);
}

TEST(IdxErrors, EveryMalformedFileNamesItself) {
  pm_test::TempDir dir;
  const std::string good = read_file(fixture("mnist-8-images-idx3-ubyte"));
  pm_test::write_text(dir / "truncated", good.substr(0, good.size() - 100));
  EXPECT_TRUE(throws_with([&] { read_idx(dir / "truncated"); },
                          {dir / "truncated", "truncated IDX", "8x28x28 = 6272 data bytes", "the file has 6172"}));
  pm_test::write_text(dir / "trailing", good + "xx");
  EXPECT_TRUE(throws_with([&] { read_idx(dir / "trailing"); }, {dir / "trailing", "2 trailing bytes"}));
  pm_test::write_text(dir / "short", std::string("\0\0", 2));
  EXPECT_TRUE(throws_with([&] { read_idx(dir / "short"); }, {dir / "short", "truncated IDX"}));
  // Dimensions whose product overflows 64 bits are still just a truncated file.
  pm_test::write_text(dir / "huge", std::string("\0\0\x08\x04", 4) + std::string(16, '\xff') + "data");
  EXPECT_TRUE(throws_with([&] { read_idx(dir / "huge"); }, {dir / "huge", "truncated IDX", "= over 2^64 data bytes", "the file has 4"}));
  pm_test::write_text(dir / "header", good.substr(0, 10));
  EXPECT_TRUE(throws_with([&] { read_idx(dir / "header"); }, {dir / "header", "the header needs 16 bytes"}));
  pm_test::write_text(dir / "magic", "PK\x03\x04 not idx");
  EXPECT_TRUE(throws_with([&] { read_idx(dir / "magic"); }, {dir / "magic", "not an IDX file", "0x504b"}));
  pm_test::write_text(dir / "type", std::string("\0\0\x07\x01\0\0\0\0", 8));
  EXPECT_TRUE(throws_with([&] { read_idx(dir / "type"); }, {dir / "type", "unknown IDX element type 0x07"}));
  EXPECT_TRUE(throws_with([&] { read_idx(dir / "missing"); }, {dir / "missing", "cannot open"}));
}

TEST(IdxErrors, TruncatedAndCorruptGzip) {
  pm_test::TempDir dir;
  const std::string gz = read_file(fixture("fashion-8-images-idx3-ubyte.gz"));
  pm_test::write_text(dir / "cut.gz", gz.substr(0, gz.size() / 2));
  EXPECT_TRUE(throws_with([&] { read_idx(dir / "cut.gz"); }, {dir / "cut.gz", "truncated gzip stream"}));
  std::string bad = gz;
  for (size_t i = 20; i < 60; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
  pm_test::write_text(dir / "bad.gz", bad);
  EXPECT_TRUE(throws_with([&] { read_idx(dir / "bad.gz"); }, {dir / "bad.gz", "gzip"}));
}

TEST(IdxErrors, LabelsThatDoNotFitTheImages) {
  pm_test::TempDir dir;
  pm_test::write_text(dir / "labels7", std::string("\0\0\x08\x01\0\0\0\x07\0\1\2\3\4\5\6", 15));
  EXPECT_TRUE(throws_with([&] { IdxImages(fixture("mnist-8-images-idx3-ubyte"), dir / "labels7"); },
                          {dir / "labels7", "7 labels for 8 images"}));
  EXPECT_TRUE(throws_with([&] { IdxImages(fixture("mnist-8-images-idx3-ubyte"), fixture("mnist-8-labels-idx1-ubyte"), {"a", "b"}); },
                          {"mnist-8-labels-idx1-ubyte", "label 9 but only 2 class names"}));
  EXPECT_TRUE(throws_with([&] { IdxImages(fixture("mnist-8-labels-idx1-ubyte"), fixture("mnist-8-labels-idx1-ubyte")); },
                          {"mnist-8-labels-idx1-ubyte", "IDX images must have 3 dims"}));
  EXPECT_TRUE(throws_with([&] { open_mnist(dir.path(), true); }, {"train-images-idx3-ubyte", "not found"}));
}
