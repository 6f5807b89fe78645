// Verdict rules and the readable rewrite: plain string scans over the completion.
#include "stages/verdict.h"

#include <algorithm>

#include "common/completion_text.h"

namespace r1::stages {

namespace {

// A component's value, or -1 where the reward did not produce it (fails every threshold).
double component(const std::map<std::string, double>& components, const char* name) {
  const auto it = components.find(name);
  return it == components.end() ? -1.0 : it->second;
}

}  // namespace

int64_t longest_paragraph(const std::string& completion) {
  const std::string_view think = completion::think_text(completion);
  int64_t longest = 0;
  std::size_t begin = 0;
  while (begin <= think.size()) {
    std::size_t end = think.find("\n\n", begin);
    if (end == std::string_view::npos) end = think.size();
    longest = std::max<int64_t>(longest, int64_t(end - begin));
    begin = end + 2;
  }
  return longest;
}

std::optional<std::string> VerdictJudge::judge(int64_t prompt_index, const std::string& completion,
                                               const std::map<std::string, double>& components) {
  if (config_.require_correct && component(components, "accuracy") < 1.0) return "incorrect";
  if (config_.require_format && component(components, "format") < 1.0) return "bad_format";
  if (config_.min_language_share > 0 && component(components, "language_consistency") < config_.min_language_share)
    return "mixed_language";
  if (config_.max_paragraph_chars > 0 && longest_paragraph(completion) > config_.max_paragraph_chars)
    return "long_paragraphs";
  if (config_.reject_code_blocks && completion.find("```") != std::string::npos) return "code_blocks";
  if (config_.reject_duplicates && !kept_.emplace(prompt_index, completion).second) return "duplicate";
  return std::nullopt;
}

std::optional<std::string> VerdictJudge::judge_chat(int64_t prompt_index, const std::string& completion,
                                                    const std::optional<std::string>& labeller_reason) {
  if (labeller_reason) return labeller_reason;
  if (config_.reject_duplicates && !kept_.emplace(prompt_index, completion).second) return "duplicate";
  return std::nullopt;
}

std::string rewrite_readable(const std::string& completion) {
  constexpr std::string_view kClose = "</think>";
  const std::size_t close = completion.rfind(kClose);
  if (close == std::string::npos) return completion;
  std::string_view think = completion::think_text(completion);
  while (!think.empty() && (think.back() == ' ' || think.back() == '\n' || think.back() == '.')) think.remove_suffix(1);
  // The last sentence: after the last ". " or newline.
  std::size_t start = 0;
  for (const std::string_view separator : {". ", "\n"}) {
    const std::size_t at = think.rfind(separator);
    if (at != std::string_view::npos) start = std::max(start, at + separator.size());
  }
  const std::string_view last = think.substr(start);
  if (last.empty()) return completion;
  // Inside the thinking, as its last paragraph: the format verifier allows nothing between
  // </think> and <answer>.
  return completion.substr(0, close) + "\n\nIn short: " + std::string(last) + "." + completion.substr(close);
}

}  // namespace r1::stages
