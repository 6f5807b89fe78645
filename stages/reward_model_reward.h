// The `reward_model` reward: a trained preference model (policy/reward_model.h) as a Reward, so
// that final RL composes it with the rule rewards in YAML like any other. It lives in stages, not
// rewards, because it runs a model: rewards/ stays free of LibTorch.
#pragma once

#include "rewards/registry.h"

namespace r1::stages {

// Options: model (required: a reward-model checkpoint directory), batch_size (16: completions per
// forward pass). Its one component, "reward_model", is the raw scalar score.
rewards::RewardInfo reward_model_reward_info();

// Adds it to the global registry once (idempotent); main() calls it before any command runs.
void register_model_rewards();

}  // namespace r1::stages
