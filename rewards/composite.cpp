// A weighted sum of rewards that is itself a Reward, and compose() that builds one from names.
#include <cmath>
#include <cstddef>
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

RewardResult Composite::combine(const std::vector<RewardResult>& part_results) const {
  R1_ASSERT(part_results.size() == parts_.size(), "combine got ", part_results.size(),
            " results for ", parts_.size(), " parts");
  RewardResult total;
  bool any_error = false;
  bool any_fail = false;
  for (std::size_t index = 0; index < parts_.size(); ++index) {
    const WeightedReward& part = parts_[index];
    const RewardResult& result = part_results[index];
    total.score += part.weight * result.score;
    total.components[part.name] = result.score;
    // A part's own finer components (other than its headline one) are kept, namespaced by part.
    for (const auto& [component, value] : result.components) {
      if (component != part.name) total.components[part.name + "." + component] = value;
    }
    any_error = any_error || result.outcome == Outcome::error;
    any_fail = any_fail || result.outcome == Outcome::fail;
    if (total.failure == Failure::none) total.failure = result.failure;
    if (!result.reason.empty()) {
      if (!total.reason.empty()) total.reason += "; ";
      total.reason += part.name + ": " + result.reason;
    }
  }
  total.outcome = any_error ? Outcome::error : any_fail ? Outcome::fail : Outcome::pass;
  return total;
}

RewardResult Composite::score(const RewardInput& input) const {
  std::vector<RewardResult> part_results;
  part_results.reserve(parts_.size());
  // Guarded per part: one throwing part is that part's error, and the others are still shown.
  for (const WeightedReward& part : parts_) part_results.push_back(score_guarded(*part.reward, input));
  return combine(part_results);
}

std::vector<RewardResult> Composite::score_many(std::span<const RewardInput> inputs) const {
  std::vector<std::vector<RewardResult>> by_part;
  by_part.reserve(parts_.size());
  for (const WeightedReward& part : parts_) by_part.push_back(score_many_guarded(*part.reward, inputs));
  std::vector<RewardResult> totals;
  totals.reserve(inputs.size());
  std::vector<RewardResult> part_results(parts_.size());
  for (std::size_t item = 0; item < inputs.size(); ++item) {
    for (std::size_t part = 0; part < parts_.size(); ++part) {
      part_results[part] = std::move(by_part[part][item]);
    }
    totals.push_back(combine(part_results));
  }
  return totals;
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
