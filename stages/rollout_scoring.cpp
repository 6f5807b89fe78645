// Sampling and scoring problems.
#include "stages/rollout_scoring.h"

#include <numeric>

#include "rewards/registry.h"

namespace r1::stages {

ScoredSamples sample_and_score(rollout::Engine& engine, const RunContext& ctx,
                               const std::vector<sampling::Problem>& problems, const std::vector<int64_t>& indices,
                               int64_t num_samples, const rollout::SamplingParams& params, uint64_t seed,
                               const std::shared_ptr<const rewards::Reward>& reward,
                               const rewards::ScoringOptions& scoring) {
  const auto& tokenizer = ctx.tokenizer();
  std::vector<rollout::GenerationRequest> requests;
  for (int64_t index : indices) {
    rollout::GenerationRequest request;
    request.prompt_ids = tokenizer.encode(ctx.chat_template().render(problems.at(index).question));
    request.num_samples = num_samples;
    request.params = params;
    request.seed = seed * 1000003ULL + uint64_t(index);
    requests.push_back(std::move(request));
  }
  auto results = engine.generate(requests);

  std::vector<ScoredSample> scored;
  std::vector<rewards::RewardInput> inputs;
  for (std::size_t r = 0; r < requests.size(); ++r) {
    const auto& problem = problems.at(indices[r]);
    for (std::size_t s = 0; s < results[r].samples.size(); ++s) {
      ScoredSample item;
      item.prompt_index = indices[r];
      item.sample_index = int64_t(s);
      item.seed = requests[r].seed;
      item.prompt_ids = requests[r].prompt_ids;
      item.sample = std::move(results[r].samples[s]);
      auto text_ids = item.sample.token_ids;
      if (!text_ids.empty() && text_ids.back() == tokenizer.eos_id()) text_ids.pop_back();
      item.completion = tokenizer.decode(text_ids);
      inputs.push_back({problem.question, item.completion, problem.answer, problem.metadata});
      scored.push_back(std::move(item));
    }
  }
  auto scores = rewards::score_batch(reward, std::move(inputs), scoring);
  for (std::size_t i = 0; i < scored.size(); ++i) scored[i].reward = std::move(scores.results[i]);
  return {std::move(scored), std::move(scores.summary)};
}

std::vector<sampling::Problem> eval_problems(const PipelineConfig& config) {
  return sampling::generate_problems(config.task, config.eval.num_prompts, config.run.seed ^ 0xe7a1e7a1ULL);
}

EvalResult evaluate(rollout::Engine& engine, const RunContext& ctx, const std::vector<sampling::Problem>& problems) {
  const auto& eval = ctx.config().eval;
  std::shared_ptr<const rewards::Reward> reward = rewards::compose({{"accuracy", 1.0}, {"format", 1.0}});
  std::vector<int64_t> indices(problems.size());
  std::iota(indices.begin(), indices.end(), 0);
  rewards::ScoringOptions scoring;  // built-in rule rewards: no limit; a failure is a bug, so stop
  scoring.threads = int(ctx.config().run.threads);
  scoring.on_failure = rewards::FailurePolicy::stop;
  auto scored = sample_and_score(engine, ctx, problems, indices, eval.samples_per_prompt, eval.sampling,
                                 /*seed=*/0xe7a1, reward, scoring)
                    .samples;
  EvalResult result;
  for (const auto& item : scored) {
    result.accuracy += item.reward.components.at("accuracy");
    result.format += item.reward.components.at("format");
    result.mean_tokens += double(item.sample.token_ids.size());
  }
  const double n = std::max<double>(1.0, double(scored.size()));
  result.accuracy /= n;
  result.format /= n;
  result.mean_tokens /= n;
  return result;
}

}  // namespace r1::stages
