// The reward registry: name -> factory, and the global instance holding the built-ins.
#include "rewards/registry.h"

#include <utility>

#include "common/error.h"
#include "rewards/builtins.h"

namespace r1::rewards {

Registry& Registry::global() {
  // A function-local static is initialised exactly once even when first used from several
  // threads at the same time (C++11 "magic statics"), so no lock is needed here.
  static Registry registry = [] {
    Registry builtins;
    builtins.add(accuracy_reward_info());
    builtins.add(format_reward_info());
    builtins.add(math_accuracy_reward_info());
    builtins.add(countdown_reward_info());
    builtins.add(language_consistency_reward_info());
    builtins.add(overlong_reward_info());
    builtins.add(repetition_reward_info());
    builtins.add(http_reward_info());
    builtins.add(command_reward_info());
    builtins.add(shared_library_reward_info());
    return builtins;
  }();
  return registry;
}

void Registry::add(RewardInfo info) {
  R1_CHECK(!info.name.empty(), "a reward needs a name");
  R1_CHECK(static_cast<bool>(info.factory), "reward '", info.name, "' has no factory");
  R1_CHECK(!rewards_.count(info.name), "reward '", info.name, "' is already registered");
  std::string name = info.name;
  rewards_.emplace(std::move(name), std::move(info));
}

bool Registry::contains(const std::string& name) const { return rewards_.count(name) > 0; }

std::unique_ptr<Reward> Registry::create(const std::string& name,
                                         const nlohmann::json& options) const {
  auto found = rewards_.find(name);
  if (found == rewards_.end()) {
    std::string known;
    for (const auto& [known_name, info] : rewards_) {
      if (!known.empty()) known += ", ";
      known += known_name;
    }
    R1_FAIL("unknown reward '", name, "'; known: ", known.empty() ? "(none)" : known);
  }
  std::unique_ptr<Reward> reward = found->second.factory(options);
  R1_ASSERT(reward != nullptr, "the factory of reward '", name, "' returned nothing");
  return reward;
}

std::vector<RewardInfo> Registry::list() const {
  std::vector<RewardInfo> infos;
  infos.reserve(rewards_.size());
  for (const auto& [name, info] : rewards_) infos.push_back(info);  // std::map: already sorted
  return infos;
}

RewardResult binary_verdict(std::string_view component, bool passed, std::string reason) {
  RewardResult result;
  result.score = passed ? 1.0 : 0.0;
  result.components[std::string(component)] = result.score;
  result.outcome = passed ? Outcome::pass : Outcome::fail;
  result.reason = std::move(reason);
  return result;
}

RewardResult cannot_judge(std::string_view component, std::string reason) {
  RewardResult result = binary_verdict(component, false, std::move(reason));
  result.outcome = Outcome::error;
  return result;
}

void check_option_keys(const std::string& reward, const nlohmann::json& options,
                       std::initializer_list<const char*> allowed) {
  if (options.is_null()) return;
  R1_CHECK(options.is_object(), "options of reward '", reward, "' must be a map, got ",
           options.dump());
  for (const auto& [key, value] : options.items()) {
    bool known = false;
    for (const char* name : allowed) known = known || key == name;
    if (known) continue;
    std::string names;
    for (const char* name : allowed) names += names.empty() ? name : std::string(", ") + name;
    R1_FAIL("reward '", reward, "' has no option '", key, "'; its options: ",
            names.empty() ? "(none)" : names);
  }
}

long long integer_option(const std::string& reward, const nlohmann::json& options, const char* key,
                         long long fallback, long long low, long long high) {
  if (!options.is_object() || !options.contains(key)) return fallback;
  const nlohmann::json& value = options[key];
  R1_CHECK(value.is_number_integer() && value.get<long long>() >= low &&
               value.get<long long>() <= high,
           reward, " option ", key, " must be an integer in [", low, ", ", high, "], got ",
           value.dump());
  return value.get<long long>();
}

}  // namespace r1::rewards
