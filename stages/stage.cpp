// The stage registry.
#include "stages/stage.h"

#include "common/error.h"

namespace r1::stages {

StageRegistry& StageRegistry::global() {
  static StageRegistry registry = [] {
    StageRegistry r;
    r.add(pretrain_stage());
    r.add(zero_stage());
    r.add(cold_start_stage());
    r.add(reasoning_rl_stage());
    r.add(rejection_sampling_stage());
    r.add(sft_stage());
    r.add(reward_model_stage());
    r.add(final_rl_stage());
    r.add(distill_stage());
    return r;
  }();
  return registry;
}

void StageRegistry::add(StageInfo info) {
  R1_ASSERT(!stages_.count(info.name), "stage registered twice: ", info.name);
  stages_.emplace(info.name, std::move(info));
}

const StageInfo& StageRegistry::get(const std::string& name) const {
  auto found = stages_.find(name);
  if (found == stages_.end()) {
    std::string known;
    for (const auto& [key, _] : stages_) known += (known.empty() ? "" : ", ") + key;
    R1_FAIL("unknown stage '", name, "'; known: ", known);
  }
  return found->second;
}

std::vector<std::string> StageRegistry::names() const {
  std::vector<std::string> names;
  for (const auto& [key, _] : stages_) names.push_back(key);
  return names;
}

}  // namespace r1::stages
