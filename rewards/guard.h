// Internal to rewards/: calls a reward so that nothing it does escapes as an exception.
#pragma once

#include "rewards/reward.h"

namespace r1::rewards {

// reward.score(input), except that an exception becomes outcome error with score 0 and the
// exception text as the reason, and a non-finite score becomes outcome error too (a NaN would
// otherwise poison every advantage in its group).
RewardResult score_guarded(const Reward& reward, const RewardInput& input);

}  // namespace r1::rewards
