// UTF-8 decoding, script ranges and lowercase mappings (see unicode_text.h for what is covered).
#include "rewards/unicode_text.h"

namespace r1::rewards::unicode {

namespace {
constexpr bool in(char32_t c, char32_t first, char32_t last) { return c >= first && c <= last; }
constexpr bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }
}  // namespace

Decoded decode(std::string_view text, std::size_t pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[pos + i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return {lead, 1};
  std::size_t length = 0;
  char32_t code_point = 0;
  char32_t smallest = 0;  // the least code point that needs this many bytes (no overlong forms)
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1F, smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F, smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07, smallest = 0x10000;
  } else {
    return {};
  }
  if (pos + length > text.size()) return {};
  for (std::size_t i = 1; i < length; ++i) {
    if (!is_continuation(byte(i))) return {};
    code_point = (code_point << 6) | (byte(i) & 0x3F);
  }
  if (code_point < smallest || code_point > 0x10FFFF || in(code_point, 0xD800, 0xDFFF)) return {};
  return {code_point, length};
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::size_t count_code_points(std::string_view text) {
  std::size_t count = 0;
  for (std::size_t pos = 0; pos < text.size(); pos += decode(text, pos).length) ++count;
  return count;
}

Script script_of(char32_t c) {
  if (c < 0x80) return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ? Script::latin : Script::none;
  if (in(c, 0xC0, 0x24F)) return (c == 0xD7 || c == 0xF7) ? Script::none : Script::latin;
  if (c == 0xAA || c == 0xBA) return Script::latin;  // ª º
  if (in(c, 0x250, 0x2AF) || in(c, 0x1E00, 0x1EFF) || in(c, 0xFF21, 0xFF3A) ||
      in(c, 0xFF41, 0xFF5A)) {
    return Script::latin;
  }
  if (in(c, 0x370, 0x3FF)) {
    return (c == 0x37E || c == 0x387 || c == 0x375 || c == 0x384 || c == 0x385) ? Script::none
                                                                                : Script::greek;
  }
  if (in(c, 0x1F00, 0x1FFF)) return Script::greek;
  if (in(c, 0x400, 0x52F) || in(c, 0x1C80, 0x1C8F) || in(c, 0x2DE0, 0x2DFF) ||
      in(c, 0xA640, 0xA69F)) {
    return (c == 0x482) ? Script::none : Script::cyrillic;  // ҂ is a numeral sign
  }
  if (in(c, 0x3400, 0x4DBF) || in(c, 0x4E00, 0x9FFF) || in(c, 0xF900, 0xFAFF) ||
      in(c, 0x20000, 0x3134F) || c == 0x3005 || c == 0x3007) {
    return Script::han;
  }
  if (in(c, 0x3041, 0x3096) || in(c, 0x309D, 0x309F) || in(c, 0x30A1, 0x30FA) ||
      in(c, 0x30FC, 0x30FF) || in(c, 0x31F0, 0x31FF) || in(c, 0xFF66, 0xFF9F)) {
    return Script::kana;
  }
  if (in(c, 0xAC00, 0xD7AF) || in(c, 0x1100, 0x11FF) || in(c, 0x3131, 0x318E)) {
    return Script::hangul;
  }
  // Letters of other alphabets and abugidas; their punctuation and digits are rare enough in
  // a chain of thought that counting a few as letters of a foreign word does no harm.
  if (in(c, 0x531, 0x587) || in(c, 0x5D0, 0x5EA) || in(c, 0x620, 0x64A) || in(c, 0x66E, 0x6D3) ||
      in(c, 0x900, 0x963) || in(c, 0x972, 0xDFF) || in(c, 0xE01, 0xE30) || in(c, 0xE40, 0xE46) ||
      in(c, 0x10A0, 0x10FF) || in(c, 0x1200, 0x137F)) {
    return Script::other;
  }
  return Script::none;
}

bool is_combining_mark(char32_t c) {
  return in(c, 0x300, 0x36F) || in(c, 0x483, 0x489) || in(c, 0x1AB0, 0x1AFF) ||
         in(c, 0x1DC0, 0x1DFF) || in(c, 0x20D0, 0x20FF) || in(c, 0xFE20, 0xFE2F) ||
         in(c, 0x3099, 0x309A);
}

char32_t to_lower(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (in(c, 0xC0, 0xDE)) return c == 0xD7 ? c : c + 32;
  if (in(c, 0x100, 0x137) || in(c, 0x14A, 0x177)) return (c % 2 == 0) ? c + 1 : c;
  if (in(c, 0x139, 0x148) || in(c, 0x179, 0x17E)) return (c % 2 == 1) ? c + 1 : c;
  if (c == 0x178) return 0xFF;
  if (in(c, 0x1E00, 0x1E95) || in(c, 0x1EA0, 0x1EFF)) return (c % 2 == 0) ? c + 1 : c;
  if (in(c, 0x391, 0x3AB)) return c == 0x3A2 ? c : c + 32;
  if (c == 0x386) return 0x3AC;
  if (in(c, 0x388, 0x38A)) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (in(c, 0x410, 0x42F)) return c + 32;
  if (in(c, 0x400, 0x40F)) return c + 80;
  if (in(c, 0x460, 0x481) || in(c, 0x48A, 0x4BF) || in(c, 0x4D0, 0x52F)) {
    return (c % 2 == 0) ? c + 1 : c;
  }
  if (c == 0x4C0) return 0x4CF;
  if (in(c, 0x4C1, 0x4CE)) return (c % 2 == 1) ? c + 1 : c;
  return c;
}

}  // namespace r1::rewards::unicode
