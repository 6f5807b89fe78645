// Turns a throwing or NaN-producing reward into a Failure::crash result; used by Composite,
// the default Reward::score_many and score_batch.
#include "rewards/guard.h"

#include <cmath>
#include <exception>

namespace r1::rewards {

namespace {

// The exception in flight as text; anything thrown that is not a std::exception still must not
// take the batch down.
std::string current_exception_text() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

void fail_non_finite(RewardResult& result) {
  if (!std::isfinite(result.score)) {
    result = failure_result(Failure::crash, "reward returned a non-finite score");
  }
}

}  // namespace

RewardResult failure_result(Failure failure, std::string reason) {
  RewardResult result;
  result.score = 0.0;
  result.outcome = Outcome::error;
  result.reason = std::move(reason);
  result.failure = failure;
  return result;
}

RewardResult score_guarded(const Reward& reward, const RewardInput& input) {
  try {
    RewardResult result = reward.score(input);
    fail_non_finite(result);
    return result;
  } catch (...) {
    return failure_result(Failure::crash, current_exception_text());
  }
}

std::vector<RewardResult> score_many_guarded(const Reward& reward,
                                             std::span<const RewardInput> inputs) {
  std::vector<RewardResult> results;
  try {
    results = reward.score_many(inputs);
  } catch (...) {
    return std::vector<RewardResult>(inputs.size(),
                                     failure_result(Failure::crash, current_exception_text()));
  }
  if (results.size() != inputs.size()) {
    const std::string reason = "reward returned " + std::to_string(results.size()) +
                               " results for " + std::to_string(inputs.size()) + " inputs";
    return std::vector<RewardResult>(inputs.size(), failure_result(Failure::crash, reason));
  }
  for (RewardResult& result : results) fail_non_finite(result);
  return results;
}

}  // namespace r1::rewards
