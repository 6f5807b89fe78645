// The glue of one RL data step: problems -> chat template -> engine samples -> reward scores.
// Shared by the RL stages and evaluation; holds no math.
#pragma once

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rewards/reward.h"
#include "rewards/scoring.h"
#include "rollout/engine.h"
#include "sampling/arithmetic_task.h"
#include "sampling/trace_store.h"
#include "stages/prompt_data.h"
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

// The trace of one scored sample, as the store keeps it (advantage and verdict left for the caller).
// The language share is the reward's language_consistency component where it has one, else
// `language_meter`'s (null: none).
sampling::TraceRecord trace_record(const std::string& stage, int64_t step, const ScoredSample& item,
                                   const sampling::Problem& problem, const rewards::Reward* language_meter);

// The run's language_consistency measure (run.language), or null where the run sets none.
std::unique_ptr<rewards::Reward> language_meter(const PipelineConfig& config);

// The rule reward evaluation and the verdicts score with: accuracy and format (weight 1 each),
// plus language_consistency in run.language where the run names one; and its scoring options
// (run.threads, no time limit, a failure stops the run: built-in rewards failing is a bug).
struct RuleScoring {
  std::shared_ptr<const rewards::Reward> reward;
  rewards::ScoringOptions options;
  bool measures_language = false;
};
RuleScoring rule_scoring(const PipelineConfig& config);

// The chat labeller (sampling::judge_chat_reply) as a reward: component "preferred", 1 for the
// reply the synthetic users prefer, else 0 with the labeller's reason. Judges; never trains a policy.
std::shared_ptr<const rewards::Reward> chat_labeller();

// Scores each item with the reward for its problem's task (metadata "task": "chat" goes to `chat`,
// everything else to `reasoning`), passing each its items together so a model batches them.
std::shared_ptr<const rewards::Reward> route_by_task(std::shared_ptr<const rewards::Reward> reasoning,
                                                     std::shared_ptr<const rewards::Reward> chat);

struct EvalResult {
  double accuracy = 0.0;     // share of samples whose answer is correct
  double format = 0.0;       // share that follow the template
  double language = 0.0;     // mean share of run.language words in the chain of thought (NaN: no language set)
  double mean_tokens = 0.0;  // completion length
  double chat_preferred = std::nan("");  // share of held-out chat replies the labeller prefers (NaN: eval.chat_prompts 0)
  double preference = std::nan("");      // mean reward-model score of those replies (NaN: no reward model given)

  std::string describe() const;                   // "accuracy 0.812  format 0.953  language 0.990  length 21.3 tokens"
  std::map<std::string, double> metrics() const;  // eval_accuracy, eval_format, eval_language, eval_tokens
  nlohmann::json summary() const;                 // the same, for done.json
  static EvalResult from_summary(const nlohmann::json& summary);  // summary()'s inverse (null: NaN)
};

// Accuracy, format and language share of `engine`'s samples on held-out problems, with fixed seeds;
// with eval.chat_prompts, the labeller's preferred share on held-out chat prompts, and their mean
// score under `preference` (a reward model) where one is given.
EvalResult evaluate(rollout::Engine& engine, const RunContext& ctx, const std::vector<sampling::Problem>& problems,
                    const std::shared_ptr<const rewards::Reward>& preference = nullptr);

// The held-out chat prompts of this run (eval.chat_prompts of them); the reasoning ones are
// eval_problems (prompt_data.h).
std::vector<sampling::Problem> eval_chat_problems(const PipelineConfig& config);

}  // namespace r1::stages
