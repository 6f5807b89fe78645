#include "sampling/trace_json.h"

#include <cmath>

namespace r1::sampling {
namespace {

nlohmann::json number_or_null(double value) { return std::isfinite(value) ? nlohmann::json(value) : nullptr; }

nlohmann::json distribution_json(const Distribution& d) {
  return {{"count", d.count}, {"mean", number_or_null(d.mean)}, {"std", number_or_null(d.stddev)},
          {"min", number_or_null(d.min)}, {"max", number_or_null(d.max)}};
}

}  // namespace

nlohmann::json step_stats_json(const StepStats& s, const nlohmann::json& step) {
  nlohmann::json components = nlohmann::json::object();
  for (const auto& [name, value] : s.mean_components) components[name] = number_or_null(value);
  return {{"stage", s.stage},
          {"step", step},
          {"count", s.count},
          {"reward", distribution_json(s.reward)},
          {"tokens", distribution_json(s.tokens)},
          {"language_share", distribution_json(s.language)},
          {"pass_rate", number_or_null(s.pass_rate)},
          {"truncated_share", s.truncated_share},
          {"accepted", s.accepted},
          {"rejected", s.rejected},
          {"rejections", s.rejections},
          {"components", components}};
}

nlohmann::json trace_json(const TraceRow& row) {
  nlohmann::json components = nlohmann::json::object();
  for (const auto& [name, value] : row.components) components[name] = number_or_null(value);
  nlohmann::json out = {{"id", row.id},
                        {"run_id", row.run_id},
                        {"run", row.run_name},
                        {"stage", row.stage},
                        {"step", row.step},
                        {"prompt_index", row.prompt_index},
                        {"sample_index", row.sample_index},
                        {"prompt", row.prompt},
                        {"reference", row.reference},
                        {"completion", row.completion},
                        {"reasoning", row.reasoning},
                        {"answer", row.answer},
                        {"prompt_tokens", row.prompt_tokens},
                        {"completion_tokens", row.completion_tokens},
                        {"finish_reason", row.finish_reason},
                        {"reward", number_or_null(row.reward)},
                        {"components", components},
                        {"outcome", row.outcome},
                        {"reason", row.reason},
                        {"advantage", number_or_null(row.advantage)},
                        {"accepted", row.accepted ? nlohmann::json(*row.accepted) : nullptr},
                        {"rejection_reason", row.rejection_reason},
                        {"language_share", number_or_null(row.language_share)},
                        {"logprob_mean", number_or_null(row.logprob_mean)},
                        {"logprob_min", number_or_null(row.logprob_min)},
                        {"seed", row.seed},
                        {"created_at", row.created_at}};
  if (!row.snippet.empty()) out["snippet"] = row.snippet;
  return out;
}

}  // namespace r1::sampling
