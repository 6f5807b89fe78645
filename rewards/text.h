// Small string helpers shared by the built-in verifiers: trimming, counting tags, quoting text
// for a reason. Plain linear scans; no regex, so no input can make them slow.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/completion_text.h"

namespace r1::rewards::text {

// ASCII whitespace only: model output is UTF-8, and non-ASCII bytes must never count as space.
constexpr bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

inline std::string_view trim(std::string_view s) {
  std::size_t begin = 0;
  std::size_t end = s.size();
  while (begin < end && is_space(s[begin])) ++begin;
  while (end > begin && is_space(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

inline bool is_blank(std::string_view s) { return trim(s).empty(); }

// Non-overlapping occurrences of a non-empty needle (tags cannot overlap themselves anyway).
inline std::size_t count(std::string_view haystack, std::string_view needle) {
  std::size_t found = 0;
  for (std::size_t pos = haystack.find(needle); pos != std::string_view::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++found;
  }
  return found;
}

// "text" in double quotes, cut to max_chars so a reason never carries a whole completion.
inline std::string quoted(std::string_view s, std::size_t max_chars = 64) {
  std::string out = "\"";
  if (s.size() <= max_chars) {
    out.append(s);
  } else {
    out.append(s.substr(0, max_chars));
    out.append("...");
  }
  out.push_back('"');
  return out;
}

using completion::after_think;
using completion::last_answer_tag;
using completion::think_text;

}  // namespace r1::rewards::text
