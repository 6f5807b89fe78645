// One sample's growing completion: appends each sampled token with its logprob and decides when the
// sample is done (EOS, a stop string, the token limit). Shared by every engine, so they agree on
// where a completion ends.
#pragma once

#include <string>

#include "policy/tokenizer.h"
#include "rollout/engine.h"

namespace r1::rollout {

class CompletionTracker {
 public:
  // `params` and `tokenizer` must outlive the tracker.
  CompletionTracker(const SamplingParams& params, const policy::Tokenizer& tokenizer)
      : params_(&params), tokenizer_(&tokenizer) {}

  // Appends the token; returns true when the sample has just finished (finish_reason set).
  bool append(int64_t token, float logprob);
  bool finished() const { return finished_; }
  const Sample& sample() const { return sample_; }
  Sample take() { return std::move(sample_); }

 private:
  const SamplingParams* params_;
  const policy::Tokenizer* tokenizer_;
  Sample sample_;
  std::string text_;  // decoded completion so far, kept only when there are stop strings
  bool finished_ = false;
};

// True once `text` ends in one of `stops`, where the last `added` bytes are new: only the region
// they could complete is searched, so checking after every token costs O(added + stop length).
bool ends_in_stop(const std::string& text, std::size_t added, const std::vector<std::string>& stops);

}  // namespace r1::rollout
