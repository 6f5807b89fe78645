// UTF-8 decoding and the little of Unicode the rewards need: which script a letter belongs to and
// simple lowercase mappings for Latin, Greek and Cyrillic. Hand-written tables of code point
// ranges, because the one library that knows all of Unicode (ICU) is far more than this needs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace r1::rewards::unicode {

constexpr char32_t kReplacement = 0xFFFD;

struct Decoded {
  char32_t code_point = kReplacement;  // kReplacement for a malformed sequence
  std::size_t length = 1;              // bytes consumed, at least 1, so scans always advance
};

// The code point starting at text[pos] (pos < text.size()). Malformed, overlong or truncated
// sequences and surrogates decode as one replacement character per byte.
Decoded decode(std::string_view text, std::size_t pos);

void append_utf8(std::string& out, char32_t code_point);

std::size_t count_code_points(std::string_view text);

enum class Script {
  none,      // not a letter: digits, punctuation, symbols, spaces, emoji
  latin,
  greek,
  cyrillic,
  han,       // CJK ideographs (Chinese characters, also kanji)
  kana,      // Japanese hiragana and katakana
  hangul,
  other,     // letters of any other script (Arabic, Hebrew, Devanagari, Thai, ...)
};

Script script_of(char32_t code_point);

// Combining accents (U+0300..U+036F and kin): part of the letter before them.
bool is_combining_mark(char32_t code_point);

// Simple one-to-one lowercase for Latin (Basic, Latin-1, Extended-A, Extended Additional), Greek
// and Cyrillic; other code points unchanged. Each mapping keeps the UTF-8 length.
char32_t to_lower(char32_t code_point);

}  // namespace r1::rewards::unicode
