// Internal to rewards/: calls a reward so that nothing it does escapes as an exception.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "rewards/reward.h"

namespace r1::rewards {

// The result that stands for "no judgement": score 0, outcome error, the failure and its reason.
RewardResult failure_result(Failure failure, std::string reason);

// reward.score(input), except that an exception becomes outcome error with score 0 and the
// exception text as the reason, and a non-finite score becomes outcome error too (a NaN would
// otherwise poison every advantage in its group); both are Failure::crash.
RewardResult score_guarded(const Reward& reward, const RewardInput& input);

// reward.score_many(inputs), guarded the same way: a throw fails every item of the call with its
// text, a result count that does not match the inputs fails them all, a non-finite score fails its
// item.
std::vector<RewardResult> score_many_guarded(const Reward& reward,
                                             std::span<const RewardInput> inputs);

}  // namespace r1::rewards
