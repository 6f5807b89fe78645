// Example: a reward written as one C++ function in your own code, registered as `length_bonus`.
// Compiled into your executable (as a source or an OBJECT library, not a static library: a linker
// drops unreferenced objects of a static library, and this registrar with them), the static
// `registered` below runs before main and adds the reward to Registry::global(), so configs and
// `r1 rewards list` see it like a built-in. See ../README.md.
#include <algorithm>
#include <string>

#include "rewards/registry.h"

namespace {

using r1::rewards::Outcome;
using r1::rewards::RewardInput;
using r1::rewards::RewardResult;

constexpr double kFullBonusChars = 1000.0;

// Longer reasoning earns up to 1: the number of characters of the chain of thought (the text
// before </think>, or the whole completion without one) over 1000, capped at 1. Pure and cheap, as
// a reward function must be: it runs on several threads at once.
RewardResult length_bonus(const RewardInput& input) {
  const std::size_t think_close = input.completion.rfind("</think>");
  const std::size_t thinking = think_close == std::string::npos ? input.completion.size() : think_close;
  RewardResult result;
  result.score = std::min(1.0, static_cast<double>(thinking) / kFullBonusChars);
  result.components["length_bonus"] = result.score;
  result.outcome = thinking > 0 ? Outcome::pass : Outcome::fail;
  if (thinking == 0) result.reason = "no reasoning before the answer";
  return result;
}

// Runs during static initialisation. Registry::global() is safe to use from here: it is a
// function-local static, built on first use whatever the order of initialisation.
const bool registered = r1::rewards::register_function(
    "length_bonus", "characters of the chain of thought / 1000, capped at 1 (an example plug-in)",
    length_bonus);

}  // namespace
