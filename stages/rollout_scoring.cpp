// Sampling and scoring problems.
#include "stages/rollout_scoring.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.h"
#include "rewards/registry.h"
#include "sampling/chat_task.h"

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

namespace {

class ChatLabeller : public rewards::Reward {
 public:
  std::string name() const override { return "chat_labeller"; }
  rewards::RewardResult score(const rewards::RewardInput& input) const override {
    const sampling::Problem problem{input.prompt, input.reference, input.metadata};
    const auto reason = sampling::judge_chat_reply(problem, input.completion);
    rewards::RewardResult result;
    result.score = reason ? 0.0 : 1.0;
    result.components["preferred"] = result.score;
    result.outcome = reason ? rewards::Outcome::fail : rewards::Outcome::pass;
    result.reason = reason.value_or("");
    return result;
  }
};

class TaskRouter : public rewards::Reward {
 public:
  TaskRouter(std::shared_ptr<const rewards::Reward> reasoning, std::shared_ptr<const rewards::Reward> chat)
      : reasoning_(std::move(reasoning)), chat_(std::move(chat)) {}
  std::string name() const override { return reasoning_->name() + (chat_ ? " | chat: " + chat_->name() : ""); }
  rewards::RewardResult score(const rewards::RewardInput& input) const override {
    return score_many(std::span<const rewards::RewardInput>(&input, 1)).front();
  }
  std::vector<rewards::RewardResult> score_many(std::span<const rewards::RewardInput> inputs) const override {
    std::vector<rewards::RewardInput> parts[2];
    std::vector<std::pair<int, std::size_t>> where;  // (part, index in it) of each input
    for (const auto& input : inputs) {
      const int part = input.metadata.is_object() && input.metadata.value("task", "") == "chat" ? 1 : 0;
      where.emplace_back(part, parts[part].size());
      parts[part].push_back(input);
    }
    R1_CHECK(parts[1].empty() || chat_, "a chat prompt reached a stage that has no reward for chat prompts");
    std::vector<rewards::RewardResult> results[2];
    if (!parts[0].empty()) results[0] = reasoning_->score_many(parts[0]);
    if (!parts[1].empty()) results[1] = chat_->score_many(parts[1]);
    std::vector<rewards::RewardResult> out;
    for (const auto& [part, index] : where) out.push_back(std::move(results[part][index]));
    return out;
  }

 private:
  std::shared_ptr<const rewards::Reward> reasoning_, chat_;
};

}  // namespace

std::shared_ptr<const rewards::Reward> chat_labeller() { return std::make_shared<ChatLabeller>(); }

std::shared_ptr<const rewards::Reward> route_by_task(std::shared_ptr<const rewards::Reward> reasoning,
                                                     std::shared_ptr<const rewards::Reward> chat) {
  return std::make_shared<TaskRouter>(std::move(reasoning), std::move(chat));
}

std::vector<sampling::Problem> eval_chat_problems(const PipelineConfig& config) {
  return sampling::generate_chat_prompts(std::size_t(config.eval.chat_prompts), config.run.seed ^ 0xc4a7e7a1ULL);
}

EvalResult evaluate(rollout::Engine& engine, const RunContext& ctx, const std::vector<sampling::Problem>& problems,
                    const std::shared_ptr<const rewards::Reward>& preference) {
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

  const auto chat = eval_chat_problems(ctx.config());
  if (!chat.empty()) {
    std::vector<int64_t> chat_indices(chat.size());
    std::iota(chat_indices.begin(), chat_indices.end(), 0);
    auto judged = sample_and_score(engine, ctx, chat, chat_indices, eval.samples_per_prompt, eval.sampling,
                                   /*seed=*/0xc4a7, chat_labeller(), rules.options)
                      .samples;
    std::vector<rewards::RewardInput> inputs;
    result.chat_preferred = 0.0;
    for (const auto& item : judged) {
      result.chat_preferred += item.reward.score / double(judged.size());
      const auto& problem = chat[item.prompt_index];
      inputs.push_back({problem.question, item.completion, problem.answer, problem.metadata});
    }
    if (preference) {
      result.preference = 0.0;
      for (const auto& scored : rewards::score_batch(preference, std::move(inputs), rules.options).results)
        result.preference += scored.score / double(judged.size());
    }
  }
  return result;
}

std::string EvalResult::describe() const {
  auto line = format_line("accuracy %.3f  format %.3f  language %.3f  length %.1f tokens", accuracy, format, language,
                          mean_tokens);
  if (std::isfinite(chat_preferred)) line += format_line("  chat preferred %.3f", chat_preferred);
  if (std::isfinite(preference)) line += format_line("  RM score %.3f", preference);
  return line;
}

std::map<std::string, double> EvalResult::metrics() const {
  std::map<std::string, double> out{
      {"eval_accuracy", accuracy}, {"eval_format", format}, {"eval_language", language}, {"eval_tokens", mean_tokens}};
  if (std::isfinite(chat_preferred)) out["eval_chat_preferred"] = chat_preferred;
  if (std::isfinite(preference)) out["eval_preference"] = preference;
  return out;
}

nlohmann::json EvalResult::summary() const {
  nlohmann::json out;
  for (const auto& [key, value] : metrics()) out[key] = std::isfinite(value) ? nlohmann::json(value) : nullptr;
  return out;
}

EvalResult EvalResult::from_summary(const nlohmann::json& summary) {
  auto value = [&](const char* key) {
    const auto found = summary.find(key);
    return found != summary.end() && found->is_number() ? found->get<double>() : std::nan("");
  };
  EvalResult result;
  result.accuracy = value("eval_accuracy");
  result.format = value("eval_format");
  result.language = value("eval_language");
  result.mean_tokens = value("eval_tokens");
  result.chat_preferred = value("eval_chat_preferred");
  result.preference = value("eval_preference");
  return result;
}

}  // namespace r1::stages
