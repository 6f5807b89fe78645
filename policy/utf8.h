// UTF-8 helpers the tokenizer needs: validity (so PCRE2 and ICU see only valid text) and the
// length of one character. Knows nothing of tokenizers.
#pragma once

#include <cstddef>
#include <string_view>

namespace r1::policy::utf8 {

// Length of the valid UTF-8 character at text[pos], or 0 when the bytes there are not one
// (a stray continuation byte, a truncated or overlong sequence, a surrogate, > U+10FFFF).
inline std::size_t valid_char_length(std::string_view text, std::size_t pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return 1;
  const std::size_t left = text.size() - pos;
  const auto cont = [&](std::size_t i) { return (byte(pos + i) & 0xC0) == 0x80; };
  if (lead >= 0xC2 && lead <= 0xDF) return left >= 2 && cont(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (left < 3 || !cont(1) || !cont(2)) return 0;
    const unsigned char second = byte(pos + 1);
    if (lead == 0xE0 && second < 0xA0) return 0;  // overlong
    if (lead == 0xED && second > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (left < 4 || !cont(1) || !cont(2) || !cont(3)) return 0;
    const unsigned char second = byte(pos + 1);
    if (lead == 0xF0 && second < 0x90) return 0;  // overlong
    if (lead == 0xF4 && second > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// Length of the character at text[pos] for splitting text into characters: a valid character's
// length, else 1 (an invalid byte counts as a character of its own).
inline std::size_t char_length(std::string_view text, std::size_t pos) {
  const std::size_t length = valid_char_length(text, pos);
  return length == 0 ? 1 : length;
}

// End of the longest valid UTF-8 prefix of text[pos...].
inline std::size_t valid_prefix_end(std::string_view text, std::size_t pos) {
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const std::size_t length = valid_char_length(text, pos);
    if (length == 0) break;
    pos += length;
  }
  return pos;
}

}  // namespace r1::policy::utf8
