// The parts of the reward interface that are not per reward: outcome and failure names, and the
// default score_many that scores one item at a time.
#include "rewards/reward.h"

#include "rewards/guard.h"

namespace r1::rewards {

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::pass: return "pass";
    case Outcome::fail: return "fail";
    case Outcome::error: return "error";
  }
  return "unknown";
}

const char* failure_name(Failure failure) {
  switch (failure) {
    case Failure::none: return "none";
    case Failure::crash: return "crash";
    case Failure::timeout: return "timeout";
    case Failure::skipped: return "skipped";
  }
  return "unknown";
}

std::vector<RewardResult> Reward::score_many(std::span<const RewardInput> inputs) const {
  std::vector<RewardResult> results;
  results.reserve(inputs.size());
  // Guarded per item: one throwing item is that item's failure, not the whole call's.
  for (const RewardInput& input : inputs) results.push_back(score_guarded(*this, input));
  return results;
}

}  // namespace r1::rewards
