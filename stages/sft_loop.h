// The supervised loop every SFT-like stage shares (pretrain, cold_start, sft, distill): batches of
// (prompt, completion) token sequences drawn with a seeded RNG, masked next-token loss on the
// completion (and on the prompt where asked), AdamW, metrics every log_every steps.
#pragma once

#include <string>
#include <vector>

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

// Trains `model` in place; `stage` names the metrics and progress lines; `seed` draws the batches.
SftResult train_sft(RunContext& ctx, const std::string& stage, policy::CausalLM& model,
                    const std::vector<rl::TokenSequence>& examples, const SftConfig& config, uint64_t seed);

}  // namespace r1::stages
