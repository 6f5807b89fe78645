// Small string helpers shared by the built-in verifiers: trimming, counting tags, quoting text
// for a reason. Plain linear scans; no regex, so no input can make them slow.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

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

// The completion's final answer region: what follows the last </think>, or all of it when the
// chain of thought was never closed (a verifier grades only the answer after the thinking).
inline std::string_view after_think(std::string_view completion) {
  constexpr std::string_view kThinkClose = "</think>";
  const std::size_t close = completion.rfind(kThinkClose);
  return close == std::string_view::npos ? completion : completion.substr(close + kThinkClose.size());
}

// The chain of thought: the text between the first <think> and the last </think>. With only
// </think> (templates whose prompt already opened <think>) it is everything before </think>; with
// only <think> (thinking never closed) everything after it; with neither tag, the whole completion.
inline std::string_view think_text(std::string_view completion) {
  constexpr std::string_view kThinkOpen = "<think>";
  constexpr std::string_view kThinkClose = "</think>";
  const std::size_t open = completion.find(kThinkOpen);
  const std::size_t begin = open == std::string_view::npos ? 0 : open + kThinkOpen.size();
  std::size_t end = completion.rfind(kThinkClose);
  if (end == std::string_view::npos || end < begin) end = completion.size();
  return completion.substr(begin, end - begin);
}

// The content of the last <answer>...</answer> in `region`; nullopt when there is none (or the
// last <answer> is never closed).
inline std::optional<std::string_view> last_answer_tag(std::string_view region) {
  constexpr std::string_view kAnswerOpen = "<answer>";
  constexpr std::string_view kAnswerClose = "</answer>";
  const std::size_t close = region.rfind(kAnswerClose);
  if (close == std::string_view::npos) return std::nullopt;
  const std::size_t open = region.rfind(kAnswerOpen, close);
  if (open == std::string_view::npos) return std::nullopt;
  const std::size_t begin = open + kAnswerOpen.size();
  return region.substr(begin, close - begin);
}

}  // namespace r1::rewards::text
