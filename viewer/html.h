// Text for HTML pages: valid UTF-8 out of whatever bytes the store holds, HTML escaping, and the
// number formats the pages share. Knows nothing of traces or HTTP.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace r1::viewer {

// `text` with every invalid UTF-8 sequence (stray continuation bytes, overlong forms, surrogates,
// code points past U+10FFFF, a sequence cut short) and every C0 control except tab, newline and
// carriage return replaced by U+FFFD. Model text is bytes: a byte tokenizer can split a character.
std::string valid_utf8(std::string_view text);

// valid_utf8(text) with & < > " ' as character references: safe inside an element and inside a
// double- or single-quoted attribute value.
std::string escape_html(std::string_view text);

// At most `max_chars` code points of valid_utf8(text) with newlines and tabs as spaces, and "…"
// when cut: a one-line preview.
std::string preview(std::string_view text, std::size_t max_chars);

// "0.125" with `decimals` digits; "—" for NaN (a value the store does not have).
std::string format_number(double value, int decimals = 3);
// 1234567 -> "1,234,567".
std::string format_count(int64_t value);

}  // namespace r1::viewer
