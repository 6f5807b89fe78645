// Turns a throwing or NaN-producing reward into an outcome error; used by Composite and score_batch.
#include "rewards/guard.h"

#include <cmath>
#include <exception>

namespace r1::rewards {

namespace {
RewardResult error_result(std::string reason) {
  RewardResult result;
  result.score = 0.0;
  result.outcome = Outcome::error;
  result.reason = std::move(reason);
  return result;
}
}  // namespace

RewardResult score_guarded(const Reward& reward, const RewardInput& input) {
  try {
    RewardResult result = reward.score(input);
    if (!std::isfinite(result.score)) return error_result("reward returned a non-finite score");
    return result;
  } catch (const std::exception& e) {
    return error_result(e.what());
  } catch (...) {
    // Anything thrown that is not a std::exception still must not take the batch down.
    return error_result("unknown exception");
  }
}

}  // namespace r1::rewards
