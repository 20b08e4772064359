// unicode.cpp: UTF-8 decoding/encoding, the GPT-2 pattern's character classes and NFC (canonical
// decomposition, canonical ordering by combining class, canonical composition; Hangul by formula).
#include "datasets/unicode.h"

#include <algorithm>

namespace datasets {
namespace ud = unicode_data;

std::vector<Utf8Unit> utf8_units(const std::string& s) {
  std::vector<Utf8Unit> out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char b = p[i];
    size_t len = 0;
    char32_t cp = 0, min = 0;
    if (b < 0x80) {
      out.push_back({b, i, i + 1, true});
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07, min = 0x10000;
    }
    bool ok = len != 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (ok) {
      out.push_back({cp, i, i + len, true});
      i += len;
    } else {
      out.push_back({b, i, i + 1, false});
      ++i;
    }
  }
  return out;
}

void utf8_append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

size_t utf8_length(const std::string& s) { return utf8_units(s).size(); }

bool is_valid_utf8(const std::string& s) {
  for (const auto& u : utf8_units(s))
    if (!u.valid) return false;
  return true;
}

namespace {

bool in_ranges(const ud::CodeRange* r, size_t n, char32_t cp) {
  const ud::CodeRange* end = r + n;
  const ud::CodeRange* it = std::upper_bound(r, end, cp, [](char32_t c, const ud::CodeRange& x) { return c < x.lo; });
  return it != r && cp <= (it - 1)->hi;
}

}  // namespace

bool is_letter(char32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return in_ranges(ud::kLetters, ud::kLetters_size, cp);
}

bool is_number(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(ud::kNumbers, ud::kNumbers_size, cp);
}

// The White_Space property (PropList.txt), which is what \s means in Unicode-aware regex engines.
bool is_whitespace(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

int combining_class(char32_t cp) {
  if (cp < 0x300) return 0;
  const auto* b = ud::kCombining;
  const auto* e = b + ud::kCombining_size;
  const auto* it = std::upper_bound(b, e, cp, [](char32_t c, const ud::CombiningRange& x) { return c < x.lo; });
  return (it != b && cp <= (it - 1)->hi) ? (it - 1)->ccc : 0;
}

const char* unicode_version() { return ud::kUnicodeVersion; }

namespace {

// Hangul syllables: S = SBase + (L * VCount + V) * TCount + T.
constexpr char32_t SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
constexpr char32_t LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp >= SBase && cp < SBase + SCount) {
    const char32_t s = cp - SBase;
    out.push_back(LBase + s / NCount);
    out.push_back(VBase + (s % NCount) / TCount);
    if (s % TCount) out.push_back(TBase + s % TCount);
    return;
  }
  const auto* b = ud::kDecomp;
  const auto* e = b + ud::kDecomp_size;
  const auto* it = std::lower_bound(b, e, cp, [](const ud::Decomposition& x, char32_t c) { return x.cp < c; });
  if (it != e && it->cp == cp) {
    out.insert(out.end(), ud::kDecompData + it->offset, ud::kDecompData + it->offset + it->length);
  } else {
    out.push_back(cp);
  }
}

// The primary composite of (a, b), or 0.
char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
    return SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
  if (a >= SBase && a < SBase + SCount && (a - SBase) % TCount == 0 && b > TBase && b < TBase + TCount)
    return a + (b - TBase);
  const auto* bg = ud::kCompose;
  const auto* e = bg + ud::kCompose_size;
  const auto* it = std::lower_bound(bg, e, std::make_pair(a, b), [](const ud::Composition& x, const std::pair<char32_t, char32_t>& k) {
    return x.first != k.first ? x.first < k.first : x.second < k.second;
  });
  return (it != e && it->first == a && it->second == b) ? it->composite : 0;
}

// NFC of a run of valid code points.
void nfc_run(const std::vector<char32_t>& in, std::string& out) {
  std::vector<char32_t> d;
  d.reserve(in.size() + 8);
  for (char32_t cp : in) decompose(cp, d);
  // Canonical ordering: stable sort each maximal run of non-starters by combining class.
  for (size_t i = 0; i < d.size();) {
    if (combining_class(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < d.size() && combining_class(d[j]) != 0) ++j;
    std::stable_sort(d.begin() + i, d.begin() + j,
                     [](char32_t x, char32_t y) { return combining_class(x) < combining_class(y); });
    i = j;
  }
  // Canonical composition: a character joins the last starter unless something between them
  // blocks it (a starter, or a mark whose class is >= its own; after canonical ordering the last
  // kept character has the largest class in between).
  if (d.empty()) return;
  std::vector<char32_t> c{d[0]};
  size_t starter = 0;
  int last_ccc = combining_class(d[0]) == 0 ? 0 : 256;  // 256: a leading mark blocks everything
  for (size_t i = 1; i < d.size(); ++i) {
    const char32_t cp = d[i];
    const int ccc = combining_class(cp);
    const char32_t comp = compose_pair(c[starter], cp);
    if (comp && (last_ccc < ccc || last_ccc == 0)) {
      c[starter] = comp;
      continue;
    }
    if (ccc == 0) starter = c.size();
    last_ccc = ccc;
    c.push_back(cp);
  }
  for (char32_t cp : c) utf8_append(out, cp);
}

}  // namespace

std::string nfc(const std::string& s) {
  // Fast path: ASCII is always NFC.
  bool ascii = true;
  for (unsigned char ch : s)
    if (ch >= 0x80) {
      ascii = false;
      break;
    }
  if (ascii) return s;
  std::string out;
  out.reserve(s.size());
  std::vector<char32_t> run;
  for (const auto& u : utf8_units(s)) {
    if (u.valid) {
      run.push_back(u.cp);
    } else {
      nfc_run(run, out);
      run.clear();
      out += s[u.begin];
    }
  }
  nfc_run(run, out);
  return out;
}

}  // namespace datasets
