// UTF-8 validation follows the Unicode standard's table of well-formed byte sequences (Table 3-7),
// so overlong encodings and surrogates are refused as browsers' decoders refuse them.
#include "viewer/html.h"

#include <cmath>
#include <cstdio>

namespace r1::viewer {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence at text[at], or 0 when there is none.
std::size_t sequence_length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char second_min = 0x80, second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // past U+10FFFF
  } else {
    return 0;  // continuation byte, C0/C1 (overlong two-byte), F5..FF
  }
  if (at + length > text.size()) return 0;
  if (byte(at + 1) < second_min || byte(at + 1) > second_max) return 0;
  for (std::size_t i = 2; i < length; ++i)
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
  return length;
}

bool is_disallowed_control(unsigned char c) { return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F; }

}  // namespace

std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = sequence_length(text, at);
    if (length == 0 || (length == 1 && is_disallowed_control(static_cast<unsigned char>(text[at])))) {
      out += kReplacement;
      ++at;  // resynchronise on the next byte, as the WHATWG decoder does for a bad lead byte
    } else {
      out.append(text.substr(at, length));
      at += length;
    }
  }
  return out;
}

std::string escape_html(std::string_view text) {
  const std::string valid = valid_utf8(text);
  std::string out;
  out.reserve(valid.size() + valid.size() / 8);
  for (char c : valid) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string preview(std::string_view text, std::size_t max_chars) {
  const std::string valid = valid_utf8(text);
  std::string out;
  std::size_t chars = 0;
  for (std::size_t at = 0; at < valid.size();) {
    const std::size_t length = sequence_length(valid, at);  // valid: never 0
    if (chars == max_chars) {
      out += "\xE2\x80\xA6";  // …
      break;
    }
    const char c = valid[at];
    if (c == '\n' || c == '\t' || c == '\r') {
      out += ' ';
    } else {
      out.append(valid, at, length);
    }
    at += length;
    ++chars;
  }
  return out;
}

std::string format_number(double value, int decimals) {
  if (std::isnan(value)) return "\xE2\x80\x94";  // —
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

std::string format_count(int64_t value) {
  const uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  const std::string digits = std::to_string(magnitude);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

}  // namespace r1::viewer
