// The byte <-> character tables of the GPT-2 byte-level alphabet (as in GPT-2's bytes_to_unicode):
// printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100 onwards.
#include "policy/byte_level.h"

#include <array>

namespace r1::policy::byte_level {

namespace {

struct Tables {
  std::array<std::string, 256> byte_chars;  // UTF-8 of the character for each byte
  std::array<int16_t, 0x180> char_bytes;    // code point -> byte, -1 when not in the alphabet

  Tables() {
    char_bytes.fill(-1);
    int next_extra = 0;
    for (int byte = 0; byte < 256; ++byte) {
      const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE);
      const int code_point = printable ? byte : 256 + next_extra++;
      char_bytes[code_point] = int16_t(byte);
      std::string utf8;
      if (code_point < 0x80) {
        utf8 += char(code_point);
      } else {
        utf8 += char(0xC0 | (code_point >> 6));
        utf8 += char(0x80 | (code_point & 0x3F));
      }
      byte_chars[byte] = utf8;
    }
  }
};

const Tables& tables() {
  static const Tables instance;
  return instance;
}

}  // namespace

void encode(std::string_view bytes, std::string& out) {
  const auto& byte_chars = tables().byte_chars;
  for (unsigned char byte : bytes) out += byte_chars[byte];
}

bool decode(std::string_view text, std::string& out) {
  const auto& char_bytes = tables().char_bytes;
  const std::size_t start = out.size();
  for (std::size_t pos = 0; pos < text.size();) {
    const unsigned char lead = text[pos];
    int code_point = -1;
    if (lead < 0x80) {
      code_point = lead;
      pos += 1;
    } else if ((lead & 0xE0) == 0xC0 && pos + 1 < text.size()) {
      code_point = ((lead & 0x1F) << 6) | (static_cast<unsigned char>(text[pos + 1]) & 0x3F);
      pos += 2;
    }
    // Every alphabet character is below U+0180, so one or two UTF-8 bytes.
    if (code_point < 0 || code_point >= int(char_bytes.size()) || char_bytes[code_point] < 0) {
      out.resize(start);
      return false;
    }
    out += char(char_bytes[code_point]);
  }
  return true;
}

}  // namespace r1::policy::byte_level
