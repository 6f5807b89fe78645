// The reward registry: rewards are registered by name once and built from config by name;
// a weighted composition of registered rewards is itself a Reward.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rewards/reward.h"

namespace r1::rewards {

// Builds a reward; `options` holds reward-specific settings from YAML (may be empty/null).
using RewardFactory = std::function<std::unique_ptr<Reward>(const nlohmann::json& options)>;

struct RewardInfo {
  std::string name;
  std::string description;  // one line, shown by `r1 rewards list`
  RewardFactory factory;
};

class Registry {
 public:
  static Registry& global();  // holds the built-in rewards from first use
  void add(RewardInfo info);  // UserError if the name is taken
  bool contains(const std::string& name) const;
  // UserError naming the unknown reward and listing the known ones.
  std::unique_ptr<Reward> create(const std::string& name, const nlohmann::json& options = {}) const;
  std::vector<RewardInfo> list() const;  // sorted by name

 private:
  std::map<std::string, RewardInfo> rewards_;
};

// Weights per reward name, e.g. {"accuracy": 1.0, "format": 0.5}, as written in YAML.
struct WeightedReward {
  std::string name;
  double weight = 1.0;
  std::unique_ptr<Reward> reward;
};

// score = sum of weight * component score. components: each part's unweighted score under its
// name. outcome: error if any part erred, else fail if any failed, else pass; reason: the parts'
// reasons joined with "; ", each prefixed by its name.
class Composite : public Reward {
 public:
  explicit Composite(std::vector<WeightedReward> parts);
  std::string name() const override;
  RewardResult score(const RewardInput& input) const override;

 private:
  std::vector<WeightedReward> parts_;
};

std::unique_ptr<Composite> compose(const std::map<std::string, double>& weights,
                                   const Registry& registry = Registry::global());

// Scores a batch, in parallel threads; results are in input order. A reward that throws yields
// outcome error with the exception text as the reason and score 0 (never a crash).
std::vector<RewardResult> score_batch(const Reward& reward, const std::vector<RewardInput>& inputs,
                                      int num_threads = 2);

}  // namespace r1::rewards
