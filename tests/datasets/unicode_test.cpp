// unicode_test.cpp: UTF-8 decoding of ill-formed input, the GPT-2 pattern's classes, and NFC
// against Python's unicodedata (tests/data/datasets/nfc_cases.json).
#include <nlohmann/json.hpp>

#include "datasets/unicode.h"
#include "datasets_test_util.h"

using namespace datasets;

TEST(Utf8, DecodesValidAndMarksIllFormedBytesOneByOne) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80" "\xFF\xC3(\xE0\x80\x80\xED\xA0\x80";
  const auto u = utf8_units(s);
  ASSERT_GE(u.size(), 5u);
  EXPECT_EQ(u[0].cp, U'a');
  EXPECT_EQ(u[1].cp, U'\u00e9');
  EXPECT_EQ(u[2].cp, U'\u20ac');
  EXPECT_EQ(u[3].cp, U'\U0001F600');
  EXPECT_TRUE(u[3].valid);
  EXPECT_FALSE(u[4].valid);  // 0xFF
  EXPECT_EQ(u[4].cp, 0xFFu);
  EXPECT_FALSE(u[5].valid);  // 0xC3 followed by '(' (truncated sequence)
  EXPECT_EQ(u[6].cp, U'(');
  // Overlong E0 80 80 and surrogate ED A0 80: every byte on its own.
  EXPECT_EQ(u.size(), 7u + 3u + 3u);
  size_t covered = 0;
  for (const auto& x : u) covered += x.end - x.begin;
  EXPECT_EQ(covered, s.size());
  EXPECT_FALSE(is_valid_utf8(s));
  EXPECT_TRUE(is_valid_utf8("plain \xC3\xA9"));
  EXPECT_EQ(utf8_length("caf\xC3\xA9"), 4u);
}

TEST(Utf8, AppendRoundTrips) {
  for (char32_t cp : {U'\x24', U'\u00a2', U'\u0939', U'\u20ac', U'\U00010348', U'\U0010FFFF'}) {
    std::string s;
    utf8_append(s, cp);
    const auto u = utf8_units(s);
    ASSERT_EQ(u.size(), 1u);
    EXPECT_EQ(u[0].cp, cp);
    EXPECT_TRUE(u[0].valid);
  }
}

TEST(UnicodeClasses, LettersNumbersWhitespace) {
  for (char32_t c : {U'a', U'Z', U'\u00e9', U'\u03a9', U'\u0416', U'\u65e5', U'\ud55c', U'\u05d0', U'\u02b0'}) EXPECT_TRUE(is_letter(c)) << int(c);
  for (char32_t c : {U'0', U'9', U'\u0661', U'\u216b', U'\u00bd', U'\u00b2', U'\u2082'}) EXPECT_TRUE(is_number(c)) << int(c);
  for (char32_t c : {U' ', U'\t', U'\n', U'\r', U'\x0b', U'\x0c', U'\u0085', U'\u00a0', U'\u2009', U'\u3000', U'\u2028'})
    EXPECT_TRUE(is_whitespace(c)) << int(c);
  for (char32_t c : {U'!', U'\'', U'_', U'\u2014', U'\U0001F916', U'\u0301', U'\ufeff'}) {
    EXPECT_FALSE(is_letter(c)) << int(c);
    EXPECT_FALSE(is_number(c)) << int(c);
    EXPECT_FALSE(is_whitespace(c)) << int(c);
  }
  EXPECT_EQ(combining_class(U'\u0301'), 230);
  EXPECT_EQ(combining_class(U'\u0323'), 220);
  EXPECT_EQ(combining_class(U'a'), 0);
}

TEST(Nfc, MatchesPythonUnicodedata) {
  const auto j = nlohmann::json::parse(read_file(pm_test::fixture("nfc_cases.json")));
  EXPECT_EQ(j["unicode_version"].get<std::string>(), unicode_version());
  int n = 0;
  for (const auto& c : j["cases"]) {
    const std::string in = c[0].get<std::string>(), want = c[1].get<std::string>();
    EXPECT_EQ(nfc(in), want) << "case " << n << ": " << in;
    ++n;
  }
  EXPECT_GT(n, 500);
}

TEST(Nfc, PassesIllFormedBytesThrough) {
  EXPECT_EQ(nfc("e\xCC\x81\xFF" "e\xCC\x81"), "\xC3\xA9\xFF\xC3\xA9");
  EXPECT_EQ(nfc("ascii only"), "ascii only");
}
