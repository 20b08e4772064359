// image_folder_test.cpp: decoding real PNG / BMP / JPEG files (CPython's test logo and MNIST digits
// written as PNG), grey/RGB conversion, the folder layout rules, and undecodable files.
#include "datasets/errors.h"
#include "datasets/file_io.h"
#include "datasets/idx.h"
#include "datasets/image_decode.h"
#include "datasets/image_folder.h"
#include "datasets_test_util.h"

using namespace datasets;
using pm_test::fixture;
using pm_test::throws_with;

namespace {

// A binary PPM (P6) or PGM (P5) as uint8 [C, H, W]: the uncompressed reference pictures.
tensor::Tensor read_pnm(const std::string& path) {
  const std::string b = read_file(path);
  int c = b[1] == '6' ? 3 : 1, w = 0, h = 0, maxv = 0, consumed = 0;
  EXPECT_EQ(std::sscanf(b.c_str() + 2, "%d %d %d%n", &w, &h, &maxv, &consumed), 3);
  const size_t off = 2 + consumed + 1;
  tensor::Tensor t = tensor::Tensor::empty({c, h, w}, tensor::DType::UInt8);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) t.data<uint8_t>()[(k * h + y) * w + x] = static_cast<uint8_t>(b[off + (y * w + x) * c + k]);
  return t;
}

double mean_abs_diff(const tensor::Tensor& a, const tensor::Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  double s = 0;
  for (size_t i = 0; i < va.size(); ++i) s += std::fabs(va[i] - vb[i]);
  return s / va.size();
}

}  // namespace

TEST(ImageDecode, PngAndBmpMatchTheUncompressedReference) {
  const tensor::Tensor ref = read_pnm(fixture("images/python.ppm"));
  ASSERT_EQ(ref.shape(), (tensor::Shape{3, 16, 16}));
  EXPECT_TRUE(pm_test::tensors_close(load_image(fixture("images/python.png"), 3), ref, 0, 0));
  EXPECT_TRUE(pm_test::tensors_close(load_image(fixture("images/python.bmp"), 3), ref, 0, 0));
}

TEST(ImageDecode, JpegIsCloseToTheReference) {
  const tensor::Tensor ref = read_pnm(fixture("images/python.ppm"));
  const tensor::Tensor jpg = load_image(fixture("images/python.jpg"), 3);
  ASSERT_EQ(jpg.shape(), ref.shape());
  EXPECT_LT(mean_abs_diff(jpg, ref), 12.0);  // lossy
}

TEST(ImageDecode, GreyConversion) {
  const tensor::Tensor grey_ref = read_pnm(fixture("images/python.pgm"));
  const tensor::Tensor grey = load_image(fixture("images/python.png"), 1);
  ASSERT_EQ(grey.shape(), (tensor::Shape{1, 16, 16}));
  EXPECT_LT(mean_abs_diff(grey, grey_ref), 3.0);  // stb's luma weights differ slightly from the reference tool's
  // Grey -> RGB repeats the plane.
  const tensor::Tensor digit = load_image(fixture("image_folder/5/mnist_0.png"), 3);
  EXPECT_TRUE(pm_test::tensors_close(digit.select(0, 0).contiguous(), digit.select(0, 2).contiguous(), 0, 0));
}

TEST(ImageDecode, PngRoundTrip) {
  const tensor::Tensor ref = read_pnm(fixture("images/python.ppm"));
  EXPECT_TRUE(pm_test::tensors_close(decode_image(encode_png(ref), 3, "mem"), ref, 0, 0));
  EXPECT_TRUE(throws_with([&] { encode_png(tensor::Tensor::empty({2, 4, 4}, tensor::DType::UInt8)); }, {"encode_png", "[2, 4, 4]"}));
}

TEST(ImageFolder, CommittedMnistTree) {
  ImageFolder folder(fixture("image_folder"), {1});
  EXPECT_EQ(folder.class_names(), (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "9"}));
  EXPECT_EQ(folder.size(), 9);
  EXPECT_EQ(folder.skipped(), 0);
  // The PNGs are the committed IDX slice, losslessly: compare every file with its source image.
  IdxImages idx(fixture("mnist-8-images-idx3-ubyte"), fixture("mnist-8-labels-idx1-ubyte"));
  for (int64_t i = 0; i < folder.size(); ++i) {
    const std::string& p = folder.path(i);
    const size_t at = p.rfind("mnist_") + 6;
    const int64_t k = std::stoll(p.substr(at));
    const ImageExample ex = folder.get(i);
    EXPECT_EQ(folder.class_names()[ex.label], std::to_string(idx.get(k).label)) << p;
    EXPECT_TRUE(pm_test::tensors_close(ex.image, idx.get(k).image.contiguous(), 0, 0)) << p;  // RGB file -> grey exact too
  }
  ImageFolder rgb(fixture("image_folder"));
  EXPECT_EQ(rgb.get(0).image.shape(), (tensor::Shape{3, 28, 28}));
}

TEST(ImageFolder, SortedClassesRecursiveFilesAndExtensions) {
  pm_test::TempDir dir;
  const std::string png = read_file(fixture("images/python.png"));
  pm_test::write_text(dir / "zebra/b.PNG", png);
  pm_test::write_text(dir / "zebra/sub/a.jpg", read_file(fixture("images/python.jpg")));
  pm_test::write_text(dir / "apple/x.bmp", read_file(fixture("images/python.bmp")));
  pm_test::write_text(dir / "apple/notes.txt", "not an image");
  pm_test::write_text(dir / "apple/.hidden.png", "hidden");
  pm_test::write_text(dir / ".git/config.png", png);
  pm_test::write_text(dir / "stray.png", png);  // files at the root are not a class
  ImageFolder f(dir.path());
  EXPECT_EQ(f.class_names(), (std::vector<std::string>{"apple", "zebra"}));
  ASSERT_EQ(f.size(), 3);
  EXPECT_EQ(f.path(0), dir / "apple/x.bmp");
  EXPECT_EQ(f.path(1), dir / "zebra/b.PNG");
  EXPECT_EQ(f.path(2), dir / "zebra/sub/a.jpg");
  EXPECT_EQ(f.get(2).label, 1);
}

TEST(ImageFolderErrors, EmptyClassFolderAndNoClasses) {
  pm_test::TempDir dir;
  pm_test::write_text(dir / "cat/a.png", read_file(fixture("images/python.png")));
  std::filesystem::create_directories(dir / "dog");
  pm_test::write_text(dir / "dog/readme.txt", "no images");
  EXPECT_TRUE(throws_with([&] { ImageFolder f(dir.path()); }, {dir / "dog", "empty class folder", ".png, .jpg, .jpeg or .bmp"}));
  pm_test::TempDir empty;
  EXPECT_TRUE(throws_with([&] { ImageFolder f(empty.path()); }, {empty.path(), "no class folders"}));
  EXPECT_TRUE(throws_with([&] { ImageFolder f(dir / "missing"); }, {dir / "missing", "not a folder"}));
  EXPECT_TRUE(throws_with([&] { ImageFolder f(dir.path(), {2}); }, {"channels must be 1 or 3"}));
}

TEST(ImageFolderErrors, UndecodableImageNamesTheFile) {
  pm_test::TempDir dir;
  const std::string png = read_file(fixture("images/python.png"));
  pm_test::write_text(dir / "a/good.png", png);
  pm_test::write_text(dir / "a/truncated.png", png.substr(0, png.size() / 3));
  pm_test::write_text(dir / "b/text.jpg", "this is not a JPEG");
  pm_test::write_text(dir / "b/good.bmp", read_file(fixture("images/python.bmp")));
  ImageFolder f(dir.path());
  ASSERT_EQ(f.size(), 4);
  EXPECT_NO_THROW(f.get(0));
  EXPECT_TRUE(throws_with([&] { f.get(1); }, {dir / "a/truncated.png", "cannot decode image"}));
  EXPECT_TRUE(throws_with([&] { f.get(3); }, {dir / "b/text.jpg", "cannot decode image"}));
  try {
    f.get(3);
  } catch (const DataError& e) {
    EXPECT_EQ(e.path(), dir / "b/text.jpg");
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

TEST(ImageFolderErrors, SkipUndecodableCountsWhatItDrops) {
  pm_test::TempDir dir;
  const std::string png = read_file(fixture("images/python.png"));
  pm_test::write_text(dir / "a/good.png", png);
  pm_test::write_text(dir / "a/truncated.png", png.substr(0, png.size() / 3));
  pm_test::write_text(dir / "b/text.jpg", "this is not a JPEG");
  pm_test::write_text(dir / "b/good.bmp", read_file(fixture("images/python.bmp")));
  pm_test::write_text(dir / "b/empty.png", "");
  ImageFolderOptions opt;
  opt.skip_undecodable = true;
  ImageFolder f(dir.path(), opt);
  EXPECT_EQ(f.size(), 2);
  EXPECT_EQ(f.skipped(), 3);
  EXPECT_EQ(f.skipped_files(), (std::vector<std::string>{dir / "a/truncated.png", dir / "b/empty.png", dir / "b/text.jpg"}));
  for (int64_t i = 0; i < f.size(); ++i) EXPECT_NO_THROW(f.get(i));
  // A class left with nothing decodable is an error even when skipping.
  pm_test::write_text(dir / "c/bad.png", "garbage");
  EXPECT_TRUE(throws_with([&] { ImageFolder g(dir.path(), opt); }, {dir / "c", "no decodable images (1 skipped)"}));
}
