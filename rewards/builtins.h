// Internal to rewards/: the built-in rewards, each defined in its own file, handed to
// Registry::global(). Explicit calls rather than static registrars, because a static library
// drops object files nothing refers to, and with them any self-registration.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "rewards/registry.h"

namespace r1::rewards {

RewardInfo accuracy_reward_info();  // rewards/accuracy.cpp
RewardInfo format_reward_info();    // rewards/format.cpp
RewardInfo math_accuracy_reward_info();         // rewards/math_accuracy.cpp
RewardInfo countdown_reward_info();             // rewards/countdown.cpp
RewardInfo language_consistency_reward_info();  // rewards/language_consistency.cpp
RewardInfo overlong_reward_info();              // rewards/overlong.cpp
RewardInfo repetition_reward_info();            // rewards/repetition.cpp
RewardInfo http_reward_info();                  // rewards/http_reward.cpp
RewardInfo command_reward_info();               // rewards/command_reward.cpp
RewardInfo shared_library_reward_info();        // rewards/shared_library_reward.cpp

// A yes/no verdict: score 1 or 0, recorded as `component`, outcome pass or fail, and why.
RewardResult binary_verdict(std::string_view component, bool passed, std::string reason);
// Score 0 with outcome error: the reward could not judge (no answer found, a malformed reference).
RewardResult cannot_judge(std::string_view component, std::string reason);

// UserError unless `options` is null or an object whose keys are all in `allowed`: a misspelt
// option in YAML should stop the run, not be silently ignored.
void check_option_keys(const std::string& reward, const nlohmann::json& options,
                       std::initializer_list<const char*> allowed);

// options[key] when present (UserError unless an integer in [low, high]), else `fallback`.
long long integer_option(const std::string& reward, const nlohmann::json& options, const char* key,
                         long long fallback, long long low, long long high);

}  // namespace r1::rewards
