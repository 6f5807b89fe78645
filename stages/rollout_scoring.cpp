// Sampling and scoring problems.
#include "stages/rollout_scoring.h"

#include <algorithm>
#include <cmath>
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

sampling::TraceRecord trace_record(const std::string& stage, int64_t step, const ScoredSample& item,
                                   const sampling::Problem& problem, const rewards::Reward* language_meter) {
  sampling::TraceRecord record;
  record.stage = stage;
  record.step = step;
  record.prompt_index = item.prompt_index;
  record.sample_index = item.sample_index;
  record.prompt = problem.question;
  record.completion = item.completion;
  record.reference = problem.answer;
  record.reward = item.reward.score;
  record.components = item.reward.components;
  record.outcome = rewards::outcome_name(item.reward.outcome);
  record.reason = item.reward.reason;
  record.prompt_tokens = int64_t(item.prompt_ids.size());
  record.completion_tokens = int64_t(item.sample.token_ids.size());
  record.finish_reason = rollout::finish_reason_name(item.sample.finish_reason);
  const auto& lp = item.sample.logprobs;
  if (!lp.empty()) {
    record.logprob_mean = std::accumulate(lp.begin(), lp.end(), 0.0) / double(lp.size());
    record.logprob_min = *std::min_element(lp.begin(), lp.end());
  }
  record.seed = item.seed;
  if (const auto found = item.reward.components.find("language_consistency"); found != item.reward.components.end())
    record.language_share = found->second;
  else if (language_meter)
    record.language_share = language_meter->score({problem.question, item.completion, problem.answer, {}})
                                .components.at("language_consistency");
  return record;
}

std::unique_ptr<rewards::Reward> language_meter(const PipelineConfig& config) {
  if (config.run.language.empty()) return nullptr;
  return rewards::Registry::global().create("language_consistency", {{"language", config.run.language}});
}

RuleScoring rule_scoring(const PipelineConfig& config) {
  RuleScoring rules;
  nlohmann::json spec = {{"accuracy", 1.0}, {"format", 1.0}};
  rules.measures_language = !config.run.language.empty();
  if (rules.measures_language) spec["language_consistency"] = {{"weight", 1.0}, {"language", config.run.language}};
  rules.reward = rewards::compose_from_json(spec);
  rules.options.threads = int(config.run.threads);
  rules.options.on_failure = rewards::FailurePolicy::stop;
  return rules;
}

std::vector<sampling::Problem> eval_problems(const PipelineConfig& config) {
  return sampling::generate_problems(config.task, config.eval.num_prompts, config.run.seed ^ 0xe7a1e7a1ULL);
}

EvalResult evaluate(rollout::Engine& engine, const RunContext& ctx, const std::vector<sampling::Problem>& problems) {
  const auto& eval = ctx.config().eval;
  const auto rules = rule_scoring(ctx.config());
  std::vector<int64_t> indices(problems.size());
  std::iota(indices.begin(), indices.end(), 0);
  auto scored = sample_and_score(engine, ctx, problems, indices, eval.samples_per_prompt, eval.sampling,
                                 /*seed=*/0xe7a1, rules.reward, rules.options)
                    .samples;
  EvalResult result;
  for (const auto& item : scored) {
    result.accuracy += item.reward.components.at("accuracy");
    result.format += item.reward.components.at("format");
    if (rules.measures_language) result.language += item.reward.components.at("language_consistency");
    result.mean_tokens += double(item.sample.token_ids.size());
  }
  const double n = std::max<double>(1.0, double(scored.size()));
  result.accuracy /= n;
  result.format /= n;
  result.language = rules.measures_language ? result.language / n : std::nan("");
  result.mean_tokens /= n;
  return result;
}

std::string EvalResult::describe() const {
  return format_line("accuracy %.3f  format %.3f  language %.3f  length %.1f tokens", accuracy, format, language,
                     mean_tokens);
}

std::map<std::string, double> EvalResult::metrics() const {
  return {{"eval_accuracy", accuracy}, {"eval_format", format}, {"eval_language", language}, {"eval_tokens", mean_tokens}};
}

nlohmann::json EvalResult::summary() const {
  nlohmann::json out;
  for (const auto& [key, value] : metrics()) out[key] = std::isfinite(value) ? nlohmann::json(value) : nullptr;
  return out;
}

}  // namespace r1::stages
