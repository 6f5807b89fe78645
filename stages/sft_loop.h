// The supervised loop every SFT-like stage shares (pretrain, cold_start, sft, distill): batches of
// (prompt, completion) token sequences drawn with a seeded RNG, masked next-token loss on the
// completion (and on the prompt where asked), AdamW, metrics every log_every steps.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/transformer.h"
#include "rl/token_batch.h"
#include "stages/run_context.h"
#include "stages/sft_config.h"

namespace r1::stages {

struct SftResult {
  double final_loss = 0.0;  // mean loss over the last logging window
  double tokens_per_s = 0.0;
};

// A prompt rendered by the run's chat template and a completion ending in EOS, as token ids.
// UserError naming `stage` where the pair is longer than the model's max_position.
rl::TokenSequence sft_sequence(const RunContext& ctx, const std::string& stage, const std::string& prompt,
                               const std::string& completion, int64_t max_position);

// A named part of a stage that trains with train_sft and can be resumed: its checkpoints carry the
// name (a stage with two, like distill's baseline and student, knows which one a checkpoint is of)
// and `state`, whatever else the stage needs to go on (state.json of the checkpoint).
struct SftPhase {
  std::string name;  // "": no checkpoints
  nlohmann::json state = nlohmann::json::object();
  // Added to the step in metrics and checkpoints, so that a second phase of a stage logs after the
  // first one's steps instead of over them (distill's student after its baseline).
  int64_t step_offset = 0;
};

// Trains `model` in place; `stage` names the metrics and progress lines; `seed` draws the batches.
// With a phase and config.checkpoint_every, writes stage checkpoints and, when the runner found one
// of this phase, goes on after it exactly: the weights, the optimiser and the batch draws of every
// step before it are restored, so the losses equal an uninterrupted run's.
SftResult train_sft(RunContext& ctx, const std::string& stage, policy::CausalLM& model,
                    const std::vector<rl::TokenSequence>& examples, const SftConfig& config, uint64_t seed,
                    const SftPhase& phase = {});

// The accepted traces of `stage` in this run as (prompt, completion), in the order they were
// stored; UserError naming `reader` (the stage that wants them) when there are none.
std::vector<std::pair<std::string, std::string>> accepted_traces(RunContext& ctx, const std::string& reader,
                                                                 const std::string& stage);

// The state.json of the checkpoint this stage resumes from (what the stage saved beside "phase"
// and "step"); an empty object when it starts from scratch.
nlohmann::json resume_state(const RunContext& ctx, const std::string& stage);

// The phase name of the checkpoint this stage resumes from; "" when it starts from scratch.
std::string resume_phase(const RunContext& ctx, const std::string& stage);

}  // namespace r1::stages
