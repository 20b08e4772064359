// byte_level.h: the pieces of the GPT-2 "ByteLevel" pre-tokenizer: the reversible byte -> printable
// character map (bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF map to themselves, the other 68 to
// U+0100 onwards, in byte order), and the split pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// implemented by hand over code points. Bytes that are not valid UTF-8 are treated as characters
// that are neither letters, numbers nor space (HF tokenizers would see U+FFFD, which is also such a
// character), so any byte string splits, and every byte lands in exactly one piece.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace datasets {

// The UTF-8 text of the character byte b maps to.
const std::string& byte_to_unicode(unsigned char b);
// The byte a character (code point) maps back from, or -1 when cp is not in the map.
int unicode_to_byte(char32_t cp);

// Byte ranges [begin, end) of the pieces of `text` under the GPT-2 split pattern.
std::vector<std::pair<size_t, size_t>> byte_level_split(const std::string& text);

}  // namespace datasets
