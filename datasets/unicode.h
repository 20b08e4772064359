// unicode.h: the little Unicode the tokenizers need: UTF-8 decoding that never fails (a byte that
// is not part of valid UTF-8 comes back as one "invalid" unit), UTF-8 encoding, the letter /
// number / white-space classes of the GPT-2 split pattern, and NFC normalization. The tables are
// generated from Python's unicodedata by datasets/tools/gen_unicode_tables.py.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace datasets {

// One decoded unit of a byte string: a code point and where its bytes are. `valid` is false for
// a byte that does not start a well-formed UTF-8 sequence; cp is then the byte value.
struct Utf8Unit {
  char32_t cp;
  size_t begin, end;  // byte range [begin, end) in the source string
  bool valid;
};

// Decodes `s` into units; ill-formed bytes (bad lead, overlong, surrogate, truncated) come back one
// byte at a time with valid = false, so every byte of `s` is covered exactly once.
std::vector<Utf8Unit> utf8_units(const std::string& s);
// Appends the UTF-8 encoding of cp to out.
void utf8_append(std::string& out, char32_t cp);
// Number of code points (ill-formed bytes count one each), as Python's len() of the decoded text.
size_t utf8_length(const std::string& s);
bool is_valid_utf8(const std::string& s);

// The classes of the GPT-2 pattern: \p{L}, \p{N}, and \s (the White_Space property).
bool is_letter(char32_t cp);
bool is_number(char32_t cp);
bool is_whitespace(char32_t cp);

// Canonical combining class (0 for starters and unknown code points).
int combining_class(char32_t cp);
// Unicode Normalization Form C. Ill-formed UTF-8 bytes are passed through unchanged.
std::string nfc(const std::string& s);
const char* unicode_version();

namespace unicode_data {
struct CodeRange {
  char32_t lo, hi;
};
struct CombiningRange {
  char32_t lo, hi;
  int ccc;
};
struct Decomposition {
  char32_t cp;
  uint32_t offset, length;  // into kDecompData
};
struct Composition {
  char32_t first, second, composite;
};
extern const char* const kUnicodeVersion;
extern const CodeRange kLetters[];
extern const size_t kLetters_size;
extern const CodeRange kNumbers[];
extern const size_t kNumbers_size;
extern const CombiningRange kCombining[];
extern const size_t kCombining_size;
extern const char32_t kDecompData[];
extern const Decomposition kDecomp[];
extern const size_t kDecomp_size;
extern const Composition kCompose[];
extern const size_t kCompose_size;
}  // namespace unicode_data

}  // namespace datasets
