// Where a completion's parts are: the chain of thought inside <think>...</think>, the answer region
// after the last </think>, the last <answer>...</answer>. Shared by the verifiers (rewards) and the
// trace store (sampling), so both cut a completion the same way. Plain scans, no regex.
#pragma once

#include <optional>
#include <string_view>

namespace r1::completion {

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

}  // namespace r1::completion
