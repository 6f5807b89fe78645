// Linear scans for \boxed{...}, <answer>...</answer> and "#### N" answers.
#include "rewards/answer_extraction.h"

#include <array>

#include "rewards/text.h"

namespace r1::rewards {

namespace {

constexpr std::string_view kAnswerOpen = "<answer>";
constexpr std::string_view kAnswerClose = "</answer>";
constexpr std::string_view kGsm8kMarker = "####";

bool holds_box(std::string_view text) {
  return text.find("\\boxed") != std::string_view::npos ||
         text.find("\\fbox") != std::string_view::npos;
}

// The content of the braced group opening at text[open] ('{'), or nullopt when never closed.
// Escaped braces (\{ \}) belong to the content and do not count.
std::optional<std::string_view> braced_content(std::string_view text, std::size_t open,
                                               std::size_t* after) {
  int depth = 0;
  for (std::size_t i = open; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      ++i;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      *after = i + 1;
      return text.substr(open + 1, i - open - 1);
    }
  }
  return std::nullopt;
}

std::vector<std::string_view> find_boxed(std::string_view text, std::size_t max_answers) {
  std::vector<std::string_view> found;
  std::size_t pos = 0;
  while (found.size() <= max_answers) {
    const std::size_t boxed = text.find("\\boxed", pos);
    const std::size_t fbox = text.find("\\fbox", pos);
    const std::size_t start = std::min(boxed, fbox);
    if (start == std::string_view::npos) break;
    std::size_t cursor = start + (start == boxed ? 6 : 5);
    if (cursor < text.size() && ((text[cursor] | 0x20) >= 'a' && (text[cursor] | 0x20) <= 'z')) {
      pos = cursor;  // \boxedsomething is another command
      continue;
    }
    while (cursor < text.size() && text::is_space(text[cursor])) ++cursor;
    if (cursor < text.size() && text[cursor] == '{') {
      std::size_t after = cursor;
      std::optional<std::string_view> content = braced_content(text, cursor, &after);
      if (!content) break;  // never closed: nothing after it can be a complete box either
      found.push_back(*content);
      pos = after;
    } else {
      // "\boxed 5": LaTeX takes the next token; take the run up to a space or '$'.
      std::size_t end = cursor;
      while (end < text.size() && !text::is_space(text[end]) && text[end] != '$') ++end;
      if (end > cursor) found.push_back(text.substr(cursor, end - cursor));
      pos = std::max(end, cursor + 1);
    }
  }
  return found;
}

std::vector<std::string_view> find_answer_tags(std::string_view text, std::size_t max_answers) {
  std::vector<std::string_view> found;
  std::size_t pos = 0;
  while (found.size() <= max_answers) {
    const std::size_t open = text.find(kAnswerOpen, pos);
    if (open == std::string_view::npos) break;
    const std::size_t begin = open + kAnswerOpen.size();
    const std::size_t close = text.find(kAnswerClose, begin);
    if (close == std::string_view::npos) break;
    // A later <answer> before this </answer> restarts the tag: "<answer>x<answer>5</answer>".
    const std::size_t reopened = text.rfind(kAnswerOpen, close);
    const std::size_t content_begin = reopened + kAnswerOpen.size();
    std::string_view content = text.substr(content_begin, close - content_begin);
    if (!holds_box(content)) found.push_back(content);
    pos = close + kAnswerClose.size();
  }
  return found;
}

std::vector<std::string_view> find_gsm8k(std::string_view text, std::size_t max_answers) {
  std::vector<std::string_view> found;
  std::size_t pos = 0;
  while (found.size() <= max_answers) {
    std::size_t marker = text.find(kGsm8kMarker, pos);
    if (marker == std::string_view::npos) break;
    std::size_t begin = marker;
    while (begin < text.size() && text[begin] == '#') ++begin;  // "#####" is one marker
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view content = text.substr(begin, end - begin);
    if (!holds_box(content)) found.push_back(content);
    pos = end;
  }
  return found;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::optional<AnswerSource> answer_source_named(std::string_view name) {
  if (name == "boxed") return AnswerSource::boxed;
  if (name == "answer_tag") return AnswerSource::answer_tag;
  if (name == "gsm8k") return AnswerSource::gsm8k;
  return std::nullopt;
}

const char* answer_source_name(AnswerSource source) {
  switch (source) {
    case AnswerSource::boxed: return "boxed";
    case AnswerSource::answer_tag: return "answer_tag";
    case AnswerSource::gsm8k: return "gsm8k";
  }
  return "unknown";
}

std::vector<std::string_view> find_answers(std::string_view text, AnswerSource source,
                                           std::size_t max_answers) {
  switch (source) {
    case AnswerSource::boxed: return find_boxed(text, max_answers);
    case AnswerSource::answer_tag: return find_answer_tags(text, max_answers);
    case AnswerSource::gsm8k: return find_gsm8k(text, max_answers);
  }
  return {};
}

std::string_view strip_answer_phrase(std::string_view answer) {
  answer = text::trim(answer);
  static constexpr std::array<std::string_view, 6> kPhrases = {
      "the final answer is", "final answer is", "the answer is", "final answer:", "answer is",
      "answer:"};
  for (std::string_view phrase : kPhrases) {
    if (starts_with_ignoring_case(answer, phrase)) {
      answer.remove_prefix(phrase.size());
      answer = text::trim(answer);
      if (!answer.empty() && answer.front() == ':') answer = text::trim(answer.substr(1));
      break;
    }
  }
  return answer;
}

std::string_view reference_answer(std::string_view reference) {
  constexpr std::size_t kEnough = 64;
  std::vector<std::string_view> boxes = find_boxed(reference, kEnough);
  if (!boxes.empty()) return text::trim(boxes.back());
  std::vector<std::string_view> lines = find_gsm8k(reference, kEnough);
  if (!lines.empty()) return text::trim(lines.back());
  return text::trim(reference);
}

}  // namespace r1::rewards
