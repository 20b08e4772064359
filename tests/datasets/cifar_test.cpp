// cifar_test.cpp: CIFAR-10 / CIFAR-100 binary records on generated files, and their errors.
#include "datasets/cifar.h"
#include "datasets_test_util.h"

using namespace datasets;
using pm_test::throws_with;

namespace {
// A record: label byte(s), then 1024 red, 1024 green, 1024 blue bytes with a recognisable pattern.
std::string record(const std::string& labels, int seed) {
  std::string r = labels;
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 1024; ++p) r += static_cast<char>((seed * 31 + c * 7 + p) & 0xFF);
  return r;
}
}  // namespace

TEST(Cifar, Cifar10RecordsAndNames) {
  pm_test::TempDir dir;
  pm_test::write_text(dir / "data_batch_1.bin", record("\x03", 1) + record("\x09", 2));
  for (int k = 2; k <= 5; ++k) pm_test::write_text(dir / ("data_batch_" + std::to_string(k) + ".bin"), record(std::string(1, 0), k + 10));
  pm_test::write_text(dir / "test_batch.bin", record("\x01", 7));
  pm_test::write_text(dir / "batches.meta.txt",
                      "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
  auto train = open_cifar10(dir.path(), true);
  ASSERT_EQ(train->size(), 6);
  EXPECT_EQ(train->class_names()[3], "cat");
  const ImageExample ex = train->get(1);
  EXPECT_EQ(ex.label, 9);
  EXPECT_EQ(ex.image.shape(), (tensor::Shape{3, 32, 32}));
  // Planes in order: red, green, blue; rows top to bottom.
  EXPECT_EQ(ex.image.at({0, 0, 0}), (2 * 31) & 0xFF);
  EXPECT_EQ(ex.image.at({1, 0, 0}), (2 * 31 + 7) & 0xFF);
  EXPECT_EQ(ex.image.at({2, 1, 3}), (2 * 31 + 14 + 35) & 0xFF);
  EXPECT_EQ(open_cifar10(dir.path(), false)->get(0).label, 1);
}

TEST(Cifar, Cifar100FineAndCoarse) {
  pm_test::TempDir dir;
  pm_test::write_text(dir / "train.bin", record(std::string("\x04\x3f", 2), 1) + record(std::string("\x13\x63", 2), 2));
  EXPECT_EQ(open_cifar100(dir.path(), true, true)->get(0).label, 63);
  EXPECT_EQ(open_cifar100(dir.path(), true, false)->get(1).label, 19);
  EXPECT_EQ(open_cifar100(dir.path(), true, true)->num_classes(), 100);
  EXPECT_EQ(open_cifar100(dir.path(), true, false)->num_classes(), 20);
}

TEST(Cifar, Errors) {
  pm_test::TempDir dir;
  pm_test::write_text(dir / "short.bin", record("\x01", 0).substr(0, 3000));
  EXPECT_TRUE(throws_with([&] { CifarImages({dir / "short.bin"}, CifarKind::Cifar10); },
                          {dir / "short.bin", "size 3000 is not a whole number of 3073-byte CIFAR-10 records"}));
  pm_test::write_text(dir / "label.bin", record("\x01", 0) + record("\x0c", 1));
  EXPECT_TRUE(throws_with([&] { CifarImages({dir / "label.bin"}, CifarKind::Cifar10); },
                          {dir / "label.bin", "record 1: label 12 out of range for 10 classes"}));
  pm_test::write_text(dir / "names.txt", "a\nb\n");
  EXPECT_TRUE(throws_with([&] { CifarImages({dir / "label.bin"}, CifarKind::Cifar10, dir / "names.txt"); },
                          {dir / "names.txt", "2 class names, CIFAR-10 needs 10"}));
  EXPECT_TRUE(throws_with([&] { open_cifar10(dir.path(), false); }, {"test_batch.bin", "cannot open"}));
}
