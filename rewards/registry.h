// The reward registry: rewards are registered by name once and built from config by name;
// a weighted composition of registered rewards is itself a Reward.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rewards/reward.h"
#include "rewards/scoring.h"  // score_batch, declared beside the registry before it had options

namespace r1::rewards {

// Builds a reward; `options` holds reward-specific settings from YAML (may be empty/null).
using RewardFactory = std::function<std::unique_ptr<Reward>(const nlohmann::json& options)>;

// One option a reward's factory accepts, for `r1 rewards list`.
struct RewardParameter {
  std::string name;           // the key in the reward's options, e.g. "max_answer_chars"
  std::string default_value;  // as a user would write it in YAML; "(required)" when there is none
  std::string doc;            // one line: what it changes
};

struct RewardInfo {
  std::string name;
  std::string description;  // one line, shown by `r1 rewards list`
  RewardFactory factory;
  std::vector<RewardParameter> parameters;  // every option the factory accepts, in a useful order
};

class Registry {
 public:
  static Registry& global();  // holds the built-in rewards from first use
  // UserError if the name is taken. Not synchronised with create(): add rewards before scoring
  // starts (from main, or a static registrar, as examples/cpp_reward does).
  void add(RewardInfo info);
  bool contains(const std::string& name) const;
  // UserError naming the unknown reward and listing the known ones.
  std::unique_ptr<Reward> create(const std::string& name, const nlohmann::json& options = {}) const;
  std::vector<RewardInfo> list() const;  // sorted by name

 private:
  std::map<std::string, RewardInfo> rewards_;
};

// A reward written as one C++ function, e.g. in a user's own target. It takes no options; its
// function must be thread-safe and bounded in time. What the function throws becomes that item's
// Failure::crash. Returns true, so that a static registrar can be written as
//   const bool registered = r1::rewards::register_function("length_bonus", "...", length_bonus);
using RewardFunction = std::function<RewardResult(const RewardInput& input)>;
bool register_function(const std::string& name, const std::string& description,
                       RewardFunction function, Registry& registry = Registry::global());

// Weights per reward name, e.g. {"accuracy": 1.0, "format": 0.5}, as written in YAML.
struct WeightedReward {
  std::string name;
  double weight = 1.0;
  std::unique_ptr<Reward> reward;
};

// score = sum of weight * component score. components: each part's unweighted score under its
// name. outcome: error if any part erred, else fail if any failed, else pass; reason: the parts'
// reasons joined with "; ", each prefixed by its name; failure: the first part's that failed.
class Composite : public Reward {
 public:
  explicit Composite(std::vector<WeightedReward> parts);
  std::string name() const override;
  RewardResult score(const RewardInput& input) const override;
  // Each part's score_many over all inputs (so a batching plug-in still gets them together).
  std::vector<RewardResult> score_many(std::span<const RewardInput> inputs) const override;

  const std::vector<WeightedReward>& parts() const { return parts_; }
  // One item's total from its parts' results, part_results[i] being parts()[i]'s.
  RewardResult combine(const std::vector<RewardResult>& part_results) const;

 private:
  std::vector<WeightedReward> parts_;
};

std::unique_ptr<Composite> compose(const std::map<std::string, double>& weights,
                                   const Registry& registry = Registry::global());

// A composition as written in a YAML config, converted to JSON: a map whose entries are either
//   name: weight
//   name: {weight: W, reward: REGISTERED_NAME, ...options for that reward's factory}
// `reward` defaults to the entry's name and `weight` to 1; the entry's name is the part's name (its
// component), so one registered reward can appear twice with different options. E.g.
//   {accuracy: 1.0, judge: {weight: 0.5, reward: http, url: "http://127.0.0.1:8000/score"}}
// UserError naming the entry for anything malformed, unknown or rejected by the factory.
std::unique_ptr<Composite> compose_from_json(const nlohmann::json& spec,
                                             const Registry& registry = Registry::global());

}  // namespace r1::rewards
