// Sampling with a verdict, for cold start and rejection sampling: many samples per prompt, each
// scored for accuracy, format and language share (chat prompts: by the chat labeller), judged
// (verdict.h) and stored in the trace store
// with its verdict and reason. Prompts go in chunks, one store "step" each, so the traces of a
// long stage reach the store (and the viewer) as it goes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "rollout/engine.h"
#include "stages/rollout_scoring.h"
#include "stages/verdict.h"

namespace r1::stages {

struct JudgedSampling {
  std::vector<ScoredSample> accepted;        // the kept samples, in prompt order
  int64_t total = 0;                         // samples judged
  int64_t rounds = 0;                        // store steps written (one per chunk of prompts)
  std::map<std::string, int64_t> rejections;  // reason -> count
  double accuracy = 0.0, format = 0.0, language = 0.0, mean_tokens = 0.0;  // over the reasoning samples
  int64_t chat_samples = 0, chat_accepted = 0;  // non-reasoning prompts' samples (judged by the chat labeller)

  double accepted_share() const { return total == 0 ? 0.0 : double(accepted.size()) / double(total); }
  nlohmann::json summary() const;  // counts, shares and rejections by reason, for done.json
};

JudgedSampling sample_and_judge(RunContext& ctx, const std::string& stage, rollout::Engine& engine,
                                const std::vector<sampling::Problem>& problems, int64_t samples_per_prompt,
                                const rollout::SamplingParams& params, const VerdictConfig& verdict, uint64_t seed);

}  // namespace r1::stages
