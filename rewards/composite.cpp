// A weighted sum of rewards that is itself a Reward, and compose() that builds one from names.
#include <cmath>
#include <set>
#include <utility>

#include "common/error.h"
#include "rewards/guard.h"
#include "rewards/registry.h"

namespace r1::rewards {

Composite::Composite(std::vector<WeightedReward> parts) : parts_(std::move(parts)) {
  R1_CHECK(!parts_.empty(), "a reward composition needs at least one reward");
  std::set<std::string> seen;
  for (const WeightedReward& part : parts_) {
    R1_ASSERT(part.reward != nullptr, "reward '", part.name, "' was not built");
    R1_CHECK(std::isfinite(part.weight), "reward '", part.name, "' has weight ", part.weight,
             "; weights must be finite numbers");
    // Components are keyed by part name, so two parts of one name would overwrite each other.
    R1_CHECK(seen.insert(part.name).second, "reward '", part.name, "' appears twice");
  }
}

std::string Composite::name() const {
  std::string joined;
  for (const WeightedReward& part : parts_) {
    if (!joined.empty()) joined += "+";
    joined += part.name;
  }
  return joined;
}

RewardResult Composite::score(const RewardInput& input) const {
  RewardResult total;
  bool any_error = false;
  bool any_fail = false;
  for (const WeightedReward& part : parts_) {
    // Guarded per part: one throwing part is that part's error, and the others are still shown.
    RewardResult result = score_guarded(*part.reward, input);
    total.score += part.weight * result.score;
    total.components[part.name] = result.score;
    // A part's own finer components (other than its headline one) are kept, namespaced by part.
    for (const auto& [component, value] : result.components) {
      if (component != part.name) total.components[part.name + "." + component] = value;
    }
    any_error = any_error || result.outcome == Outcome::error;
    any_fail = any_fail || result.outcome == Outcome::fail;
    if (!result.reason.empty()) {
      if (!total.reason.empty()) total.reason += "; ";
      total.reason += part.name + ": " + result.reason;
    }
  }
  total.outcome = any_error ? Outcome::error : any_fail ? Outcome::fail : Outcome::pass;
  return total;
}

std::unique_ptr<Composite> compose(const std::map<std::string, double>& weights,
                                   const Registry& registry) {
  R1_CHECK(!weights.empty(), "no rewards to compose: give at least one reward name");
  std::vector<WeightedReward> parts;
  parts.reserve(weights.size());
  for (const auto& [name, weight] : weights) {
    parts.push_back(WeightedReward{name, weight, registry.create(name)});
  }
  return std::make_unique<Composite>(std::move(parts));
}

}  // namespace r1::rewards
