// Sample, score, judge, store.
#include "stages/judged_sampling.h"

#include <cmath>

#include "common/error.h"
#include "sampling/chat_task.h"

namespace r1::stages {

namespace {

constexpr int64_t kPromptsPerChunk = 32;

}  // namespace

nlohmann::json JudgedSampling::summary() const {
  return {{"samples", total},       {"accepted", int64_t(accepted.size())}, {"accepted_share", accepted_share()},
          {"rejections", rejections}, {"sample_accuracy", accuracy},        {"sample_format", format},
          {"sample_language", language}, {"sample_tokens", mean_tokens}, {"chat_samples", chat_samples},
          {"chat_accepted", chat_accepted}};
}

JudgedSampling sample_and_judge(RunContext& ctx, const std::string& stage, rollout::Engine& engine,
                                const std::vector<sampling::Problem>& problems, int64_t samples_per_prompt,
                                const rollout::SamplingParams& params, const VerdictConfig& verdict, uint64_t seed) {
  const auto& config = ctx.config();
  // Every rule needs its component: accuracy and format always, the language share where the run
  // names a language (without one, the language rule is off).
  const auto scoring = rule_scoring(config);
  VerdictConfig rules = verdict;
  if (!scoring.measures_language) rules.min_language_share = 0.0;
  VerdictJudge judge(rules);
  const auto reward = route_by_task(scoring.reward, chat_labeller());
  JudgedSampling out;
  int64_t reasoning_samples = 0;
  const int64_t chunks = (int64_t(problems.size()) + kPromptsPerChunk - 1) / kPromptsPerChunk;
  const int64_t run_id = ctx.run_id();
  ctx.progress().start(stage, chunks);
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    std::vector<int64_t> indices;
    for (int64_t i = chunk * kPromptsPerChunk; i < std::min<int64_t>((chunk + 1) * kPromptsPerChunk, problems.size()); ++i)
      indices.push_back(i);
    auto scored = sample_and_score(engine, ctx, problems, indices, samples_per_prompt, params, seed + uint64_t(chunk),
                                   reward, scoring.options)
                      .samples;
    std::vector<sampling::TraceRecord> records;
    for (auto& item : scored) {
      const auto& problem = problems[item.prompt_index];
      const bool chat = sampling::is_chat(problem);
      auto record = trace_record(stage, chunk + 1, item, problem, nullptr);
      const auto reason =
          chat ? judge.judge_chat(item.prompt_index, item.completion,
                                  item.reward.outcome == rewards::Outcome::pass ? std::nullopt
                                                                                : std::optional(item.reward.reason))
               : judge.judge(item.prompt_index, item.completion, item.reward.components);
      record.accepted = !reason.has_value();
      if (reason) {
        record.rejection_reason = *reason;
        ++out.rejections[*reason];
      }
      ++out.total;
      if (chat) {
        ++out.chat_samples;
        out.chat_accepted += !reason;
      } else {  // the sample statistics describe the reasoning samples
        ++reasoning_samples;
        out.accuracy += item.reward.components.at("accuracy");
        out.format += item.reward.components.at("format");
        if (std::isfinite(record.language_share)) out.language += record.language_share;
        out.mean_tokens += double(item.sample.token_ids.size());
      }
      records.push_back(std::move(record));
      if (!reason) out.accepted.push_back(std::move(item));
    }
    ctx.traces().add_samples(run_id, std::move(records));
    ctx.progress().update(chunk + 1, format_line("accepted %lld/%lld", (long long)out.accepted.size(), (long long)out.total));
  }
  ctx.progress().finish();
  out.rounds = chunks;
  const double n = std::max<double>(1.0, double(reasoning_samples));
  out.accuracy /= n;
  out.format /= n;
  out.language = scoring.measures_language ? out.language / n : std::nan("");
  out.mean_tokens /= n;
  std::string reasons;
  for (const auto& [reason, count] : out.rejections) reasons += " " + reason + "=" + std::to_string(count);
  ctx.progress().line(format_line("[%s] %lld samples: %lld accepted (%.1f%%); rejected:%s", stage.c_str(),
                                  (long long)out.total, (long long)out.accepted.size(), 100.0 * out.accepted_share(),
                                  reasons.empty() ? " none" : reasons.c_str()));
  ctx.log_metrics(stage, chunks,
                  {{"accepted_share", out.accepted_share()}, {"sample_accuracy", out.accuracy},
                   {"sample_format", out.format}, {"sample_tokens", out.mean_tokens}});
  return out;
}

}  // namespace r1::stages
