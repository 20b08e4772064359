// byte_level.cpp: the byte <-> character map and the GPT-2 split pattern, alternative by
// alternative, in the regex's order (the first alternative that matches at a position wins, each
// greedy).
#include "datasets/byte_level.h"

#include <array>

#include "datasets/unicode.h"

namespace datasets {
namespace {

struct ByteMap {
  std::array<std::string, 256> to_text;
  std::array<int, 256 + 68> from_cp;  // character -> byte; -1 where no byte maps
  ByteMap() {
    from_cp.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t cp = printable ? static_cast<char32_t>(b) : next++;
      from_cp[cp] = b;
      utf8_append(to_text[b], cp);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

enum Class : unsigned char { Letter, Number, Space, Other };

}  // namespace

const std::string& byte_to_unicode(unsigned char b) { return byte_map().to_text[b]; }

int unicode_to_byte(char32_t cp) { return cp < 256 + 68 ? byte_map().from_cp[cp] : -1; }

std::vector<std::pair<size_t, size_t>> byte_level_split(const std::string& text) {
  const std::vector<Utf8Unit> u = utf8_units(text);
  const size_t n = u.size();
  std::vector<Class> cls(n);
  for (size_t i = 0; i < n; ++i) {
    const char32_t cp = u[i].cp;
    cls[i] = !u[i].valid ? Other : is_letter(cp) ? Letter : is_number(cp) ? Number : is_whitespace(cp) ? Space : Other;
  }
  auto is_char = [&](size_t i, char c) { return i < n && u[i].valid && u[i].cp == static_cast<char32_t>(c); };
  // End of the run of class c starting at i.
  auto run_end = [&](size_t i, Class c) {
    while (i < n && cls[i] == c) ++i;
    return i;
  };

  std::vector<std::pair<size_t, size_t>> pieces;
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    // 's 't 're 've 'm 'll 'd
    if (is_char(i, '\'')) {
      if (is_char(i + 1, 's') || is_char(i + 1, 't') || is_char(i + 1, 'm') || is_char(i + 1, 'd')) {
        j = i + 2;
      } else if ((is_char(i + 1, 'r') && is_char(i + 2, 'e')) || (is_char(i + 1, 'v') && is_char(i + 2, 'e')) ||
                 (is_char(i + 1, 'l') && is_char(i + 2, 'l'))) {
        j = i + 3;
      }
    }
    if (j == i) {
      // ' ?' followed by a run of letters, numbers or "other" characters (the space must be U+0020).
      const size_t k = is_char(i, ' ') && i + 1 < n && cls[i + 1] != Space ? i + 1 : i;
      if (cls[k] != Space) {
        j = run_end(k, cls[k]);
      } else {
        // \s+(?!\S): the whitespace run, minus its last character when a non-space follows
        // (unless that would leave nothing; then \s+ takes the single character).
        const size_t e = run_end(i, Space);
        j = (e < n && e - i > 1) ? e - 1 : e;
      }
    }
    pieces.emplace_back(u[i].begin, u[j - 1].end);
    i = j;
  }
  return pieces;
}

}  // namespace datasets
