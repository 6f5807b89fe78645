// A pipeline stage and the stage registry: stages are registered by name once; the runner looks
// them up by the names in the config's `stages` list.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "stages/run_context.h"

namespace r1::stages {

// What a finished stage reports: headline metrics, written to <stage dir>/done.json.
using StageSummary = nlohmann::json;

struct StageInfo {
  std::string name;
  std::string description;
  std::function<StageSummary(RunContext&)> run;
};

class StageRegistry {
 public:
  static StageRegistry& global();
  void add(StageInfo info);
  const StageInfo& get(const std::string& name) const;  // UserError listing the known stages
  std::vector<std::string> names() const;

 private:
  std::map<std::string, StageInfo> stages_;
};

// Defined by each stage's file; called once by StageRegistry::global().
StageInfo pretrain_stage();
StageInfo zero_stage();
StageInfo cold_start_stage();
StageInfo reasoning_rl_stage();
StageInfo rejection_sampling_stage();
StageInfo sft_stage();
StageInfo reward_model_stage();
StageInfo final_rl_stage();
StageInfo distill_stage();

}  // namespace r1::stages
