// The GRPO stages: `zero` (R1-Zero: GRPO from the base with rule rewards only, accuracy + format),
// `reasoning_rl` (GRPO from the cold-start model, adding language consistency) and `final_rl` (GRPO
// from the SFT model, chat prompts scored by the reward model beside the rule-scored reasoning
// prompts) share one loop;
// their config sections choose the starting model and the rewards. Every sample goes into the
// trace store with its reward components and advantage.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "common/error.h"
#include "policy/checkpoint.h"
#include "rewards/registry.h"
#include "rl/advantages.h"
#include "rl/grpo.h"
#include "rl/optimizer.h"
#include "rl/token_batch.h"
#include "rollout/cpu_engine.h"
#include "sampling/chat_task.h"
#include "stages/reward_model_reward.h"
#include "stages/rollout_scoring.h"
#include "stages/stage_checkpoint.h"
#include "stages/stage.h"

namespace r1::stages {

namespace {

// preference_rewards with each reward_model entry's `model` resolved: a stage of this run names its
// checkpoint directory.
nlohmann::json resolve_reward_models(const RunContext& ctx, nlohmann::json spec) {
  if (!spec.is_object()) return spec;  // compose_from_json says what is wrong
  for (auto& [name, entry] : spec.items())
    if (entry.is_object() && entry.value("reward", name) == "reward_model" && entry.contains("model") &&
        entry["model"].is_string())
      entry["model"] = ctx.resolve_model(entry["model"].get<std::string>());
  return spec;
}

StageSummary run_grpo_stage(RunContext& ctx, const std::string& name, const GrpoStageConfig& cfg) {
  const auto& config = ctx.config();
  const char* tag = name.c_str();
  torch::manual_seed(config.run.seed + 1);
  const auto& tokenizer = ctx.tokenizer();

  const std::string init = ctx.resolve_model(cfg.init_from);
  auto policy_model = policy::load_pretrained(init).model;
  policy::CausalLM reference{nullptr};
  if (cfg.grpo.kl_beta > 0) {  // beta = 0: no reference model at all
    reference = policy::load_pretrained(init).model;
    for (auto& p : reference->parameters()) p.set_requires_grad(false);
  }
  rollout::CpuEngine engine(policy_model, tokenizer);
  std::shared_ptr<const rewards::Reward> reward, preference;
  register_model_rewards();  // `reward_model` may score any prompt (r1-qwen's final_rl), not only chat
  try {
    reward = rewards::compose_from_json(resolve_reward_models(ctx, cfg.rewards));
  } catch (const UserError& e) {
    R1_FAIL(name, ".rewards: ", e.what());
  }
  if (cfg.chat_prompts_per_step > 0) {
    try {
      preference = rewards::compose_from_json(resolve_reward_models(ctx, cfg.preference_rewards));
    } catch (const UserError& e) {
      R1_FAIL(name, ".preference_rewards: ", e.what());
    }
    reward = route_by_task(reward, preference);
  }
  const auto scoring = cfg.reward_scoring.options(int(config.run.threads));
  rl::Optimizer optimizer(policy_model->parameters(), cfg.optimizer, cfg.steps);
  const double aux_coef = policy_model->config().router_aux_loss_coef;

  // The prompt pool: reasoning problems, then the chat prompts; each part drawn in its own shuffled order.
  auto train = training_prompts(config, cfg.num_train_prompts, config.run.seed ^ 0x7a3e0ULL);
  std::vector<int64_t> order(train.size()), chat_order(std::size_t(cfg.chat_prompts_per_step > 0 ? cfg.num_chat_prompts : 0));
  std::iota(order.begin(), order.end(), 0);
  std::iota(chat_order.begin(), chat_order.end(), int64_t(train.size()));
  std::shuffle(order.begin(), order.end(), std::mt19937_64(config.run.seed + 29));
  std::shuffle(chat_order.begin(), chat_order.end(), std::mt19937_64(config.run.seed + 31));
  for (auto& chat : sampling::generate_chat_prompts(chat_order.size(), config.run.seed ^ 0xc4a77a3eULL))
    train.push_back(std::move(chat));
  const auto held_out = eval_problems(config);

  // From scratch, or after the last checkpoint of a killed attempt: the weights, the optimiser and
  // the step; the prompt order and the sampling seeds follow from the step.
  const auto& resume = ctx.resume_point(name);
  EvalResult before;
  int64_t first_step = 1;
  if (resume) {
    load_stage_checkpoint(*resume, policy_model, optimizer);
    engine.refresh_weights();
    first_step = resume->step + 1;
    before = EvalResult::from_summary(resume->state.value("eval_before", nlohmann::json::object()));
  } else {
    before = evaluate(engine, ctx, held_out, preference);
    ctx.progress().line(format_line("[%s] eval before: %s", tag, before.describe().c_str()));
    ctx.log_metrics(name, 0, before.metrics());
  }

  const int64_t run_id = ctx.run_id();
  ctx.progress().start(name, cfg.steps);
  // The language share of each trace: the reward's own component when it is one, else measured.
  const auto meter = language_meter(config);

  int64_t cursor = (first_step - 1) * cfg.prompts_per_step, chat_cursor = (first_step - 1) * cfg.chat_prompts_per_step;
  for (int64_t step = first_step; step <= cfg.steps; ++step) {
    const double step_started = ctx.progress().elapsed_seconds();
    std::vector<int64_t> indices;
    for (int64_t i = 0; i < cfg.prompts_per_step; ++i) indices.push_back(order[cursor++ % order.size()]);
    for (int64_t i = 0; i < cfg.chat_prompts_per_step; ++i)
      indices.push_back(chat_order[(chat_cursor++) % chat_order.size()]);
    auto [scored, scoring_summary] = sample_and_score(engine, ctx, train, indices, cfg.grpo.group_size,
                                                      cfg.sampling, config.run.seed * 7919ULL + uint64_t(step),
                                                      reward, scoring);
    const double rollout_seconds = ctx.progress().elapsed_seconds() - step_started;

    std::vector<rl::TokenSequence> sequences;
    for (const auto& item : scored) sequences.push_back({item.prompt_ids, item.sample.token_ids, item.sample.logprobs});
    auto batch = rl::pack(sequences, tokenizer.pad_id());
    torch::Tensor ref_logprobs;
    if (reference) {
      torch::NoGradGuard no_grad;
      ref_logprobs = rl::token_logprobs(reference, batch.input_ids).logprobs;
    }

    // Advantages from the group's rewards (less beta * the sample's KL when kl_in = reward).
    std::vector<float> reward_values;
    for (const auto& item : scored) reward_values.push_back(float(item.reward.score));
    auto rewards_tensor = torch::tensor(reward_values);
    if (reference && cfg.grpo.kl_in == "reward")
      rewards_tensor -= cfg.grpo.kl_beta *
                        rl::sequence_kl(batch.old_logprobs, ref_logprobs, batch.loss_mask, cfg.grpo.kl_estimator);
    auto advantages = rl::compute_advantages(rewards_tensor, cfg.grpo.group_size, cfg.grpo.advantage);

    auto current = rl::token_logprobs(policy_model, batch.input_ids, /*with_entropy=*/true, cfg.grpo.logprob_vocab_chunk);
    // One update per batch: the learner's own logprobs before it are the ratio's denominator (so the
    // ratio is exactly 1); the engine's logprobs enter only through the TIS weight and the mismatch.
    rl::GrpoLossInputs inputs{current.logprobs, current.logprobs.detach(), batch.old_logprobs, ref_logprobs,
                              current.entropy,  advantages,                batch.loss_mask};
    auto terms = rl::grpo_loss(inputs, cfg.grpo);
    auto loss = terms.loss + aux_coef * current.aux_loss;
    const auto mismatch = rl::logprob_mismatch(current.logprobs.detach(), batch.old_logprobs, batch.loss_mask);
    loss.backward();
    const double lr = optimizer.current_lr();
    const double grad_norm = optimizer.step();
    engine.refresh_weights();
    const double learner_seconds = ctx.progress().elapsed_seconds() - step_started - rollout_seconds;

    // Traces and metrics.
    std::vector<sampling::TraceRecord> records;
    // accuracy, format, language: over the reasoning samples; preference: the chat samples' score
    double mean_reward = 0, accuracy = 0, format = 0, tokens = 0, language = 0, preference_sum = 0;
    int64_t with_language = 0;  // samples with a share (the reward's component or the run's measure)
    int64_t chat_samples = 0;
    auto advantage_values = advantages.accessor<float, 1>();
    for (std::size_t i = 0; i < scored.size(); ++i) {
      const auto& item = scored[i];
      const bool chat = sampling::is_chat(train[item.prompt_index]);
      auto record = trace_record(name, step, item, train[item.prompt_index], chat ? nullptr : meter.get());
      record.advantage = advantage_values[i];
      mean_reward += item.reward.score;
      tokens += double(item.sample.token_ids.size());
      records.push_back(std::move(record));
      if (chat) {
        preference_sum += item.reward.score;
        ++chat_samples;
        continue;
      }
      if (std::isfinite(records.back().language_share)) {
        language += records.back().language_share;
        ++with_language;
      }
      accuracy += item.reward.components.count("accuracy") ? item.reward.components.at("accuracy") : 0.0;
      format += item.reward.components.count("format") ? item.reward.components.at("format") : 0.0;
    }
    ctx.traces().add_samples(run_id, std::move(records));
    const double n = double(scored.size());
    const double reasoning_n = std::max(1.0, n - double(chat_samples));
    const double step_seconds = ctx.progress().elapsed_seconds() - step_started;
    ctx.log_metrics(name, step,
                    {{"reward", mean_reward / n}, {"accuracy", accuracy / reasoning_n}, {"format", format / reasoning_n},
                     {"preference", chat_samples > 0 ? preference_sum / double(chat_samples) : std::nan("")},
                     {"language", with_language > 0 ? language / double(with_language) : std::nan("")},
                     {"completion_tokens", tokens / n}, {"kl", terms.kl}, {"policy_loss", terms.policy_loss},
                     {"clip_fraction", terms.clip_fraction}, {"grad_norm", grad_norm}, {"lr", lr},
                     {"entropy", terms.entropy},
                     {"mismatch_kl", mismatch.kl}, {"mismatch_max_abs", mismatch.max_abs}, {"step_seconds", step_seconds},
                     {"rollout_seconds", rollout_seconds},
                     {"reward_failures", double(scoring_summary.failures())}, {"learner_seconds", learner_seconds}});
    ctx.progress().line(format_line(
        "[%s] step %3lld/%lld  reward %.3f  accuracy %.3f  format %.3f  length %5.1f  kl %.4f  %.1fs "
        "(rollout %.1fs)",
        tag, (long long)step, (long long)cfg.steps, mean_reward / n, accuracy / reasoning_n, format / reasoning_n,
        tokens / n, terms.kl, step_seconds, rollout_seconds) +
        (chat_samples > 0 ? format_line("  preference %.3f", preference_sum / double(chat_samples)) : std::string()));
    ctx.progress().update(step, format_line("accuracy %.2f", accuracy / reasoning_n));
    if (cfg.checkpoint_every > 0 && step % cfg.checkpoint_every == 0 && step < cfg.steps) {
      // The traces and metrics of every step so far reach the store first: a checkpoint never
      // claims a step whose traces a kill could still lose.
      ctx.traces().flush(/*include_index=*/false);
      save_stage_checkpoint(ctx.stage_dir(name), step, policy_model, tokenizer, optimizer,
                            {{"eval_before", before.summary()}, {"steps", cfg.steps}});
    }
  }
  ctx.progress().finish();
  policy::save_pretrained(ctx.model_dir(name).string(), policy_model, tokenizer, config.chat_template);

  auto after = evaluate(engine, ctx, held_out, preference);
  ctx.progress().line(format_line("[%s] eval after:  %s  (accuracy before: %.3f)", tag, after.describe().c_str(),
                                  before.accuracy));
  ctx.log_metrics(name, cfg.steps, after.metrics());
  auto summary = after.summary();
  summary["eval_accuracy_before"] = before.accuracy;
  summary["eval_format_before"] = before.format;
  summary["eval_language_before"] = before.language;
  const auto before_summary = before.summary();
  for (const char* key : {"eval_chat_preferred", "eval_preference"})
    if (before_summary.contains(key)) summary[std::string(key) + "_before"] = before_summary[key];
  summary["seconds"] = ctx.progress().elapsed_seconds();
  return summary;
}

}  // namespace

StageInfo zero_stage() {
  return {"zero", "R1-Zero: GRPO from the base model with accuracy and format rewards",
          [](RunContext& ctx) { return run_grpo_stage(ctx, "zero", ctx.config().zero); }};
}

StageInfo final_rl_stage() {
  return {"final_rl",
          "GRPO from the SFT model: rule rewards for reasoning prompts, the reward model for chat prompts",
          [](RunContext& ctx) { return run_grpo_stage(ctx, "final_rl", ctx.config().final_rl); }};
}

StageInfo reasoning_rl_stage() {
  return {"reasoning_rl", "GRPO from the cold-start model with accuracy, format and language-consistency rewards",
          [](RunContext& ctx) { return run_grpo_stage(ctx, "reasoning_rl", ctx.config().reasoning_rl); }};
}

}  // namespace r1::stages
