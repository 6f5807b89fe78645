// A stage's resumable state, <stage dir>/checkpoint/: the policy (model/), the reference model where
// it moves (reference/, GRPO's ref_refresh_every), the optimiser's moments
// and schedule step (optimizer.pt), and state.json (the step it was taken after, plus whatever the
// stage needs to go on exactly: its "eval before", ...). Data positions and sampling seeds are
// functions of the step, so the step is enough to continue the same prompt order and samples.
//
// Written atomically: everything goes into checkpoint.tmp/, which is then swapped in by renames. A
// crash at any moment leaves the last complete checkpoint, as checkpoint/ or, between the two
// renames, as checkpoint.old/ (which find_stage_checkpoint reads too).
#pragma once

#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "policy/tokenizer.h"
#include "policy/transformer.h"
#include "rl/optimizer.h"

namespace r1::stages {

struct StageCheckpoint {
  std::filesystem::path dir;  // holds model/, optimizer.pt, state.json
  int64_t step = 0;           // the last optimiser step whose results it holds
  nlohmann::json state;       // state.json
};

void save_stage_checkpoint(const std::filesystem::path& stage_dir, int64_t step, policy::CausalLM& model,
                           const policy::Tokenizer& tokenizer, const rl::Optimizer& optimizer, nlohmann::json state,
                           policy::CausalLM* reference = nullptr);

// The last complete checkpoint of a stage, or nullopt. UserError naming the file if state.json is
// unreadable (a checkpoint is only ever visible complete, so that means someone edited it).
std::optional<StageCheckpoint> find_stage_checkpoint(const std::filesystem::path& stage_dir);

void remove_stage_checkpoint(const std::filesystem::path& stage_dir);

// Restores `model` and `optimizer` from `checkpoint`, and `reference` where it saved one.
void load_stage_checkpoint(const StageCheckpoint& checkpoint, policy::CausalLM& model, rl::Optimizer& optimizer,
                           policy::CausalLM* reference = nullptr);

}  // namespace r1::stages
