#include "rollout/completion_tracker.h"

#include "common/error.h"

namespace r1::rollout {

bool ends_in_stop(const std::string& text, std::size_t added, const std::vector<std::string>& stops) {
  for (const auto& stop : stops) {
    if (stop.empty() || text.size() < stop.size()) continue;
    const std::size_t from = text.size() >= added + stop.size() - 1 ? text.size() - added - stop.size() + 1 : 0;
    if (text.find(stop, from) != std::string::npos) return true;
  }
  return false;
}

bool CompletionTracker::append(int64_t token, float logprob) {
  R1_ASSERT(!finished_, "CompletionTracker: token appended to a finished sample");
  sample_.token_ids.push_back(token);
  sample_.logprobs.push_back(logprob);
  if (token == tokenizer_->eos_id()) {
    sample_.finish_reason = FinishReason::stop;
    return finished_ = true;
  }
  if (!params_->stop.empty()) {
    const std::string piece = tokenizer_->token_text(token);
    text_ += piece;
    if (ends_in_stop(text_, piece.size(), params_->stop)) {
      sample_.finish_reason = FinishReason::stop;
      return finished_ = true;
    }
  }
  if (int64_t(sample_.token_ids.size()) >= params_->max_tokens) {
    sample_.finish_reason = FinishReason::length;
    return finished_ = true;
  }
  return false;
}

}  // namespace r1::rollout
