// The rollout engine a run's `engine:` config names (rollout/engine_config.h), over a policy model.
#pragma once

#include <memory>

#include "policy/tokenizer.h"
#include "policy/transformer.h"
#include "rollout/engine.h"
#include "rollout/engine_config.h"

namespace r1::stages {

// `tokenizer` must outlive the engine. UserError (exit 2) for kind cuda in a build without the
// CUDA runner or on a machine without a device.
std::unique_ptr<rollout::Engine> make_engine(const rollout::EngineConfig& config, policy::CausalLM model,
                                             const policy::Tokenizer& tokenizer);

// UserError (exit 2) naming engine.kind when this build or machine cannot run it (kind cuda
// without the CUDA runner or without a device): checked before a run does any work.
void check_engine_available(const rollout::EngineConfig& config);

}  // namespace r1::stages
