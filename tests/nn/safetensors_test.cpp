// safetensors_test.cpp: the safetensors reader and writer: round trips of every written dtype,
// a file written independently by Python (tests/reference/make_safetensors_fixture.py), one test per
// malformed-file check with its message, and the writer's atomic replacement.
#include "nn/safetensors.h"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "common/test_util.h"

namespace {

namespace fs = std::filesystem;
using nn::SafetensorsFile;
using tensor::DType;
using tensor::Tensor;

// A fresh directory per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("pm_safetensors_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes an 8-byte length (the header's own unless `len` is given), the header and the data.
  std::string make_file(const std::string& name, const std::string& header, const std::string& data = "",
                        std::optional<uint64_t> len = std::nullopt) {
    std::string p = path(name);
    std::ofstream f(p, std::ios::binary);
    uint64_t n = len ? *len : header.size();
    for (int i = 0; i < 8; ++i) f.put(static_cast<char>(n >> (8 * i)));
    f << header << data;
    return p;
  }
  fs::path dir_;
};

std::string read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Same dtype, shape and bytes (exact, also for int64 values beyond double precision).
::testing::AssertionResult same_tensor(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << "dtypes differ: " << tensor::dtype_name(a.dtype()) << " vs "
                                         << tensor::dtype_name(b.dtype());
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shapes differ: " << tensor::shape_str(a.shape()) << " vs "
                                         << tensor::shape_str(b.shape());
  Tensor ca = a.contiguous(), cb = b.contiguous();
  if (std::memcmp(ca.raw_data(), cb.raw_data(), ca.numel() * ca.element_size()) != 0)
    return ::testing::AssertionFailure() << "values differ";
  return ::testing::AssertionSuccess();
}

TEST_F(SafetensorsTest, RoundTripOfEveryWrittenDtype) {
  tensor::Generator gen(7);
  std::map<std::string, Tensor> ts;
  ts["a.f32"] = tensor::randn({2, 3}, DType::Float32, &gen);
  ts["b.f64"] = tensor::randn({4}, DType::Float64, &gen);
  ts["c.i32"] = tensor::from_vector<int32_t>({1, -2, INT32_MAX, INT32_MIN}, {2, 2});
  ts["d.i64"] = tensor::from_vector<int64_t>({0, -1, (int64_t(1) << 62) + 1, INT64_MIN}, {4});
  ts["e.u8"] = tensor::from_vector<uint8_t>({0, 7, 255}, {3});
  ts["f.scalar"] = tensor::scalar_tensor(-2.5, DType::Float64);
  ts["g.empty"] = tensor::zeros({0, 4}, DType::Float32);
  Tensor base = tensor::randn({3, 4}, DType::Float64, &gen);
  ts["h.transposed"] = base.transpose(0, 1);                              // non-contiguous view
  ts["i.expanded"] = tensor::randn({3, 1}, DType::Float32, &gen).expand({3, 5});  // stride-0 dim
  ts["j.sliced"] = base.slice(1, 0, 4, 2);
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "quote \" and ünïcode"}};
  std::string p = path("model.safetensors");
  nn::save_safetensors(p, ts, meta);

  SafetensorsFile f(p);
  EXPECT_EQ(f.size(), ts.size());
  EXPECT_EQ(f.metadata(), meta);
  std::vector<std::string> expected_names;
  for (const auto& kv : ts) expected_names.push_back(kv.first);
  EXPECT_EQ(f.names(), expected_names);
  for (const auto& [name, t] : ts) {
    EXPECT_EQ(f.shape(name), t.shape()) << name;
    EXPECT_EQ(f.dtype(name), t.dtype()) << name;
    EXPECT_EQ(f.entry(name).dtype, nn::safetensors_dtype_name(t.dtype())) << name;
    Tensor back = f.load(name);
    EXPECT_TRUE(back.is_contiguous());
    EXPECT_TRUE(same_tensor(back, t)) << name;
  }
  // Layout: header length a multiple of 8, data in sorted-key order starting at offset 0.
  std::string bytes = read_bytes(p);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  EXPECT_EQ(f.entry("a.f32").begin, 0u);
  EXPECT_EQ(f.entry("b.f64").begin, 24u);
  EXPECT_FALSE(fs::exists(p + ".tmp." + std::to_string(::getpid())));

  std::map<std::string, std::string> meta2;
  auto all = nn::load_safetensors(p, {}, &meta2);
  EXPECT_EQ(meta2, meta);
  ASSERT_EQ(all.size(), ts.size());
  for (const auto& [name, t] : ts) EXPECT_TRUE(same_tensor(all.at(name), t)) << name;
}

TEST_F(SafetensorsTest, EmptyFileAndNoMetadata) {
  std::string p = path("empty.safetensors");
  nn::save_safetensors(p, {});
  SafetensorsFile f(p);
  EXPECT_EQ(f.size(), 0u);
  EXPECT_TRUE(f.metadata().empty());
  EXPECT_EQ(read_bytes(p).size(), 16u);  // "{}" padded to 8
}

TEST_F(SafetensorsTest, FloatDtypeOptionConvertsFloatsOnly) {
  std::string p = path("m.safetensors");
  nn::save_safetensors(p, {{"d", tensor::from_vector<double>({0.1, 2.5}, {2})},
                           {"f", tensor::from_vector<float>({0.25f, -1.f}, {2})},
                           {"i", tensor::from_vector<int64_t>({3, 4}, {2})}});
  SafetensorsFile f(p);
  nn::SafetensorsLoadOptions to32;
  to32.float_dtype = DType::Float32;
  Tensor d = f.load("d", to32);
  EXPECT_EQ(d.dtype(), DType::Float32);
  EXPECT_FLOAT_EQ(d.at({0}), 0.1f);
  EXPECT_EQ(f.load("i", to32).dtype(), DType::Int64);
  nn::SafetensorsLoadOptions to64;
  to64.float_dtype = DType::Float64;
  Tensor x = f.load("f", to64);
  EXPECT_EQ(x.dtype(), DType::Float64);
  EXPECT_EQ(x.at({1}), -1.0);
  auto all = f.load_all(to64);
  EXPECT_EQ(all.at("d").dtype(), DType::Float64);
  EXPECT_EQ(all.at("i").dtype(), DType::Int64);
  nn::SafetensorsLoadOptions bad;
  bad.float_dtype = DType::Int32;
  EXPECT_TRUE(pm_test::throws_with([&] { f.load("d", bad); }, {p, "tensor 'd'", "float_dtype must be float32 or float64"}));
}

TEST_F(SafetensorsTest, WritesBFloat16TensorsAsBF16) {
  Tensor t = Tensor::empty({2}, DType::BFloat16);
  uint16_t bits[2] = {0x3FC0, 0xC010};  // 1.5, -2.25
  std::memcpy(t.raw_data(), bits, 4);
  std::string p = path("bf.safetensors");
  nn::save_safetensors(p, {{"w", t}});
  SafetensorsFile f(p);
  EXPECT_EQ(f.entry("w").dtype, "BF16");
  Tensor back = f.load("w");
  EXPECT_EQ(back.dtype(), DType::Float32);
  EXPECT_EQ(back.to_vector(), (std::vector<double>{1.5, -2.25}));
}

// The tensors of tests/reference/make_safetensors_fixture.py (and make_safetensors_lib_fixture.py,
// which writes the same values through the Python safetensors library), checked value by value.
void check_fixture_file(const std::string& file, const std::string& source) {
  SCOPED_TRACE(file);
  SafetensorsFile f(pm_test::data_path(file));
  EXPECT_EQ(f.size(), 15u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("source"), source);

  Tensor w = f.load("weight.f32");
  EXPECT_EQ(w.dtype(), DType::Float32);
  EXPECT_EQ(w.shape(), (tensor::Shape{2, 3}));
  EXPECT_EQ(w.to_vector(), (std::vector<double>{-1, -0.5, 0, 0.5, 1, 1.5}));
  EXPECT_EQ(f.load("weight.f64").to_vector(), (std::vector<double>{M_PI, -M_E, 1e-300}));

  Tensor h = f.load("half.f16");
  EXPECT_EQ(h.dtype(), DType::Float32);
  auto hv = h.to_vector();
  ASSERT_EQ(hv.size(), 8u);
  EXPECT_EQ(hv[0], 1.0);
  EXPECT_EQ(hv[1], -2.0);
  EXPECT_EQ(hv[2], 65504.0);
  EXPECT_EQ(hv[3], std::ldexp(1.0, -24));
  EXPECT_EQ(hv[4], std::ldexp(1.0, -14));
  EXPECT_EQ(hv[5], std::numeric_limits<double>::infinity());
  EXPECT_EQ(hv[6], 0.0);
  EXPECT_TRUE(std::signbit(hv[6]));
  EXPECT_TRUE(std::isnan(hv[7]));

  Tensor b = f.load("brain.bf16");
  EXPECT_EQ(b.dtype(), DType::Float32);
  EXPECT_EQ(b.shape(), (tensor::Shape{2, 2}));
  EXPECT_EQ(b.to_vector(), (std::vector<double>{1.5, -2.25, std::ldexp(1.0, 100), 0.15625}));

  EXPECT_TRUE(same_tensor(f.load("ids.i64"), tensor::from_vector<int64_t>(
                                                  {0, -1, (int64_t(1) << 40) + 3, -(int64_t(1) << 62)}, {4})));
  EXPECT_TRUE(same_tensor(f.load("ids.i32"), tensor::from_vector<int32_t>({1, -2, INT32_MAX, INT32_MIN}, {2, 2})));
  EXPECT_TRUE(same_tensor(f.load("bytes.u8"), tensor::from_vector<uint8_t>({0, 7, 255}, {3})));
  EXPECT_TRUE(same_tensor(f.load("mask.bool"), tensor::from_vector<uint8_t>({1, 0, 1}, {3})));
  EXPECT_TRUE(same_tensor(f.load("small.i8"), tensor::from_vector<int32_t>({-5, 100}, {2})));
  EXPECT_TRUE(same_tensor(f.load("small.i16"), tensor::from_vector<int32_t>({-300, 300}, {2})));
  EXPECT_TRUE(same_tensor(f.load("small.u16"), tensor::from_vector<int32_t>({65535}, {1})));
  EXPECT_TRUE(same_tensor(f.load("small.u32"), tensor::from_vector<int64_t>({4294967295LL}, {1})));

  Tensor s = f.load("scalar");
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<float>(), 3.25f);
  Tensor e = f.load("empty");
  EXPECT_EQ(e.shape(), (tensor::Shape{0, 3}));
  EXPECT_EQ(e.numel(), 0);

  // U64 is listed but cannot become a tensor (no dtype holds all its values).
  EXPECT_EQ(f.shape("big.u64"), (tensor::Shape{1}));
  EXPECT_EQ(f.entry("big.u64").dtype, "U64");
  EXPECT_TRUE(pm_test::throws_with([&] { f.load("big.u64"); }, {"tensor 'big.u64'", "dtype U64 cannot be loaded"}));
  EXPECT_TRUE(pm_test::throws_with([&] { f.dtype("big.u64"); }, {"dtype U64 cannot be loaded"}));
  EXPECT_TRUE(pm_test::throws_with([&] { f.load_all(); }, {"dtype U64 cannot be loaded"}));
}

// Written by make_safetensors_fixture.py (numpy + struct, in the reference library's layout:
// metadata first, tensors ordered by element size, compact JSON), independently of our writer.
TEST_F(SafetensorsTest, ReadsPythonWrittenFile) { check_fixture_file("python_written.safetensors", "make_safetensors_fixture.py"); }

// Written by the Python safetensors library itself (safetensors.torch.save_file, on the GPU machine
// where it is installed): make_safetensors_lib_fixture.py.
TEST_F(SafetensorsTest, ReadsFileWrittenByTheSafetensorsLibrary) {
  check_fixture_file("safetensors_lib_written.safetensors", "make_safetensors_lib_fixture.py");
}

TEST_F(SafetensorsTest, MissingTensorNameOnLookup) {
  std::string p = path("m.safetensors");
  nn::save_safetensors(p, {{"w", tensor::zeros({2})}});
  SafetensorsFile f(p);
  EXPECT_FALSE(f.contains("nope"));
  EXPECT_THROW(f.load("nope"), std::out_of_range);
  EXPECT_TRUE(pm_test::throws_with([&] { f.load("nope"); }, {p, "no tensor named 'nope'", "holds 1 tensors"}));
  EXPECT_TRUE(pm_test::throws_with([&] { f.shape("nope"); }, {"no tensor named 'nope'"}));
}

TEST_F(SafetensorsTest, MissingFile) {
  std::string p = path("absent.safetensors");
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); }, {p, "cannot open"}));
}

// ---- malformed files: each rejected with its own one-line message ---------------------------------

TEST_F(SafetensorsTest, RejectsFileShorterThanTheLength) {
  std::string p = path("short.safetensors");
  std::ofstream(p, std::ios::binary) << "abcde";
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); },
                                   {p + ": ", "file is 5 bytes, too short for the 8-byte header length"}));
}

TEST_F(SafetensorsTest, RejectsTruncatedData) {
  std::string p = path("cut.safetensors");
  nn::save_safetensors(p, {{"w", tensor::zeros({4})}});
  fs::resize_file(p, fs::file_size(p) - 4);
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); },
                                   {p, "tensor 'w'", "data_offsets [0, 16] run past the end of the 12-byte data section"}));
}

TEST_F(SafetensorsTest, RejectsHeaderLengthPastTheEnd) {
  std::string p = make_file("past.safetensors", "{}", "", 1000);
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); },
                                   {p, "header length 1000 runs past the end of the file (10 bytes)"}));
}

TEST_F(SafetensorsTest, RejectsAbsurdHeaderLength) {
  std::string p = make_file("huge.safetensors", "{}", "", uint64_t(1) << 60);
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); },
                                   {p, "header length 1152921504606846976 exceeds the limit of 100000000 bytes"}));
}

TEST_F(SafetensorsTest, RejectsBadJson) {
  std::string p = make_file("bad.safetensors", R"({"w": {"dtype": "F32",)");
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); }, {p, "header is not valid JSON"}));
}

TEST_F(SafetensorsTest, RejectsJsonThatIsNotAnObject) {
  std::string p = make_file("arr.safetensors", "[1, 2]   ");
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); }, {p, "header is an array, not a JSON object"}));
}

TEST_F(SafetensorsTest, RejectsHeaderNotStartingWithBrace) {
  std::string p = make_file("lead.safetensors", "  {}    ");
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); }, {p, "header must start with '{'"}));
}

TEST_F(SafetensorsTest, RejectsDuplicateNames) {
  std::string e = R"({"dtype":"U8","shape":[1],"data_offsets":[0,1]})";
  std::string p = make_file("dup.safetensors", "{\"w\":" + e + ",\"w\":" + e + "}", "x");
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); }, {p, "tensor 'w' appears twice in the header"}));
}

TEST_F(SafetensorsTest, RejectsUnknownDtype) {
  std::string p = make_file("dt.safetensors", R"({"w":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}})",
                            std::string(8, '\0'));
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); }, {p, "tensor 'w': unknown dtype 'F17'"}));
}

TEST_F(SafetensorsTest, RejectsOffsetsOutOfRange) {
  std::string p = make_file("oor.safetensors", R"({"w":{"dtype":"F32","shape":[25],"data_offsets":[0,100]}})",
                            std::string(24, '\0'));
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); },
                                   {p, "tensor 'w': data_offsets [0, 100] run past the end of the 24-byte data section"}));
}

TEST_F(SafetensorsTest, RejectsOffsetsEndingBeforeTheyBegin) {
  std::string p = make_file("rev.safetensors", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})",
                            std::string(8, '\0'));
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); }, {p, "tensor 'w': data_offsets [8, 0] end before they begin"}));
}

TEST_F(SafetensorsTest, RejectsOverlappingSpans) {
  std::string p = make_file("ovl.safetensors",
                            R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                            R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                            std::string(24, '\0'));
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); }, {p, "tensors 'a' [0, 16] and 'b' [8, 24] overlap"}));
}

TEST_F(SafetensorsTest, RejectsGaps) {
  std::string mid = make_file("gap.safetensors",
                              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})",
                              std::string(24, '\0'));
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(mid); },
                                   {mid, "bytes [8, 16) of the data section belong to no tensor (gap before 'b')"}));
  std::string head = make_file("head.safetensors", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                               std::string(16, '\0'));
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(head); }, {"bytes [0, 8) of the data section belong to no tensor"}));
  std::string tail = make_file("tail.safetensors", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                               std::string(16, '\0'));
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(tail); },
                                   {"bytes [8, 16) at the end of the data section belong to no tensor"}));
  std::string none = make_file("none.safetensors", "{}", std::string(4, '\0'));
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(none); },
                                   {"bytes [0, 4) at the end of the data section belong to no tensor"}));
}

TEST_F(SafetensorsTest, AcceptsZeroSizeTensorsBetweenSpans) {
  std::string p = make_file("zs.safetensors",
                            R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                            R"("z":{"dtype":"F64","shape":[0,5],"data_offsets":[2,2]},)"
                            R"("b":{"dtype":"U8","shape":[],"data_offsets":[2,3]}})",
                            "\x01\x02\x03");
  SafetensorsFile f(p);
  EXPECT_EQ(f.load("z").shape(), (tensor::Shape{0, 5}));
  EXPECT_EQ(f.load("b").item<int64_t>(), 3);
}

TEST_F(SafetensorsTest, RejectsShapeByteCountMismatch) {
  std::string p = make_file("mm.safetensors",
                            R"({"layers.0.mixer.in_proj.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,12]}})",
                            std::string(12, '\0'));
  EXPECT_TRUE(pm_test::throws_with(
      [&] { SafetensorsFile f(p); },
      {p + ": tensor 'layers.0.mixer.in_proj.weight': data_offsets [0, 12] hold 12 bytes, shape [2, 3] F32 needs 24"}));
  std::string big = make_file(
      "ovf.safetensors", R"({"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})",
      std::string(4, '\0'));
  EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(big); }, {"tensor 'w'", "needs more than 2^64"}));
}

TEST_F(SafetensorsTest, RejectsMalformedEntries) {
  struct Case {
    std::string header, message;
  };
  std::vector<Case> cases = {
      {R"({"w":[1]})", "tensor 'w': entry is an array, expected an object"},
      {R"({"w":{"shape":[1],"data_offsets":[0,1]}})", "tensor 'w': entry has no \"dtype\""},
      {R"({"w":{"dtype":"U8","data_offsets":[0,1]}})", "tensor 'w': entry has no \"shape\""},
      {R"({"w":{"dtype":"U8","shape":[1]}})", "tensor 'w': entry has no \"data_offsets\""},
      {R"({"w":{"dtype":8,"shape":[1],"data_offsets":[0,1]}})", "tensor 'w': dtype is a number, expected a string"},
      {R"({"w":{"dtype":"U8","shape":1,"data_offsets":[0,1]}})", "tensor 'w': shape is a number, expected an array"},
      {R"({"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", "tensor 'w': shape [-1] must hold non-negative integers"},
      {R"({"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", "tensor 'w': shape [1.5] must hold non-negative integers"},
      {R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})",
       "tensor 'w': data_offsets [0,1,2] must be two non-negative integers [begin, end]"},
      {R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}})",
       "tensor 'w': data_offsets [-1,0] must be two non-negative integers [begin, end]"},
      {R"({"__metadata__":{"format":1},"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
       "__metadata__ entry 'format' is a number, expected a string"},
      {R"({"__metadata__":["pt"],"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
       "__metadata__ is an array, expected an object of strings"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string p = make_file("e" + std::to_string(i) + ".safetensors", cases[i].header, "x");
    EXPECT_TRUE(pm_test::throws_with([&] { SafetensorsFile f(p); }, {p + ": " + cases[i].message})) << cases[i].header;
  }
}

TEST_F(SafetensorsTest, RejectsBoolOutsideZeroOne) {
  std::string p = make_file("bool.safetensors", R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})",
                            std::string("\x01\x02", 2));
  SafetensorsFile f(p);
  EXPECT_TRUE(pm_test::throws_with([&] { f.load("m"); }, {p, "tensor 'm': BOOL value 2 at element 1 is not 0 or 1"}));
}

// ---- writer atomicity --------------------------------------------------------------------------------

TEST_F(SafetensorsTest, FailedWriteLeavesTheOldFileUntouched) {
  std::string p = path("model.safetensors");
  nn::save_safetensors(p, {{"w", tensor::ones({3})}});
  const std::string before = read_bytes(p);
  const std::string tmp = p + ".tmp." + std::to_string(::getpid());

  EXPECT_TRUE(pm_test::throws_with([&] { nn::save_safetensors(p, {{"a", tensor::zeros({2})}, {"b", Tensor()}}); },
                                   {p, "cannot save tensor 'b': tensor is undefined"}));
  EXPECT_THROW(nn::save_safetensors(p, {{"b", Tensor()}}), std::invalid_argument);
  EXPECT_TRUE(pm_test::throws_with([&] { nn::save_safetensors(p, {{"__metadata__", tensor::zeros({2})}}); },
                                   {"cannot save tensor '__metadata__': the name is reserved for metadata"}));
  EXPECT_TRUE(pm_test::throws_with([&] { nn::save_safetensors(p, {{"", tensor::zeros({2})}}); },
                                   {"cannot save a tensor with an empty name"}));
  EXPECT_TRUE(pm_test::throws_with([&] { nn::save_safetensors(p, {{"\xff\xfe", tensor::zeros({2})}}); },
                                   {"the name is not valid UTF-8"}));
  EXPECT_EQ(read_bytes(p), before);
  EXPECT_FALSE(fs::exists(tmp));

  // A directory that does not exist: nothing is created.
  std::string nodir = path("no/such/dir/model.safetensors");
  EXPECT_TRUE(pm_test::throws_with([&] { nn::save_safetensors(nodir, {{"w", tensor::ones({3})}}); },
                                   {nodir, "cannot create", "No such file or directory"}));

  // The rename fails (the target is a non-empty directory): the temp file is removed.
  std::string d = path("adir");
  fs::create_directories(d + "/inside");
  EXPECT_TRUE(pm_test::throws_with([&] { nn::save_safetensors(d, {{"w", tensor::ones({3})}}); }, {d, "cannot rename"}));
  EXPECT_FALSE(fs::exists(d + ".tmp." + std::to_string(::getpid())));
  EXPECT_TRUE(fs::is_directory(d + "/inside"));

  EXPECT_EQ(read_bytes(p), before);
  SafetensorsFile f(p);
  EXPECT_EQ(f.load("w").to_vector(), (std::vector<double>{1, 1, 1}));
}

TEST_F(SafetensorsTest, OverwriteReplacesAtomicallyAndOpenReadersKeepTheOldFile) {
  std::string p = path("model.safetensors");
  nn::save_safetensors(p, {{"w", tensor::ones({3})}});
  SafetensorsFile old(p);
  nn::save_safetensors(p, {{"w", tensor::full({2}, 5.0)}, {"v", tensor::zeros({1})}});
  SafetensorsFile now(p);
  EXPECT_EQ(now.load("w").to_vector(), (std::vector<double>{5, 5}));
  EXPECT_EQ(old.load("w").to_vector(), (std::vector<double>{1, 1, 1}));  // the replaced file, still open
  int tmp_files = 0;
  for (const auto& e : fs::directory_iterator(dir_))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) ++tmp_files;
  EXPECT_EQ(tmp_files, 0);
}

}  // namespace
