// The glue of one RL data step: problems -> chat template -> engine samples -> reward scores.
// Shared by the RL stages and evaluation; holds no math.
#pragma once

#include <memory>
#include <vector>

#include "rewards/reward.h"
#include "rewards/scoring.h"
#include "rollout/engine.h"
#include "sampling/arithmetic_task.h"
#include "stages/run_context.h"

namespace r1::stages {

struct ScoredSample {
  int64_t prompt_index = 0;  // index into the problem list
  int64_t sample_index = 0;  // index within the prompt's group
  uint64_t seed = 0;         // the request's seed
  std::vector<int64_t> prompt_ids;
  rollout::Sample sample;
  std::string completion;    // decoded text (without EOS)
  rewards::RewardResult reward;
};

struct ScoredSamples {
  std::vector<ScoredSample> samples;
  rewards::ScoringSummary scoring;  // failures (crashes, timeouts) per reward, for the metrics
};

// Samples `num_samples` completions for each problem in `indices` and scores them under `scoring`'s
// threads, time limit and failure policy. Request seeds are derived from `seed` and the prompt index,
// so a sample is reproducible on its own.
ScoredSamples sample_and_score(rollout::Engine& engine, const RunContext& ctx,
                               const std::vector<sampling::Problem>& problems, const std::vector<int64_t>& indices,
                               int64_t num_samples, const rollout::SamplingParams& params, uint64_t seed,
                               const std::shared_ptr<const rewards::Reward>& reward,
                               const rewards::ScoringOptions& scoring);

struct EvalResult {
  double accuracy = 0.0;     // share of samples whose answer is correct
  double format = 0.0;       // share that follow the template
  double mean_tokens = 0.0;  // completion length
};

// Accuracy and format of `engine`'s samples on held-out problems, with fixed seeds.
EvalResult evaluate(rollout::Engine& engine, const RunContext& ctx, const std::vector<sampling::Problem>& problems);

// The held-out evaluation problems of this run (distinct seed from every training set).
std::vector<sampling::Problem> eval_problems(const PipelineConfig& config);

}  // namespace r1::stages
