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
#include "rl/grpo_update.h"
#include "rl/load_balance.h"
#include "rl/optimizer.h"
#include "rl/token_batch.h"
#include "rollout/cpu_engine.h"
#include "sampling/chat_task.h"
#include "stages/engine_factory.h"
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
  const auto engine_owner = make_engine(config.engine, policy_model, tokenizer);
  rollout::Engine& engine = *engine_owner;
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
  if (cfg.grpo.aux_free_bias_rate > 0) {
    const auto layers = rl::moe_layers(policy_model);
    R1_CHECK(!layers.empty() && layers.front()->gate->e_score_correction_bias.defined(), name,
             ".grpo.aux_free_bias_rate: the model's routers have no correction bias (an MoE model with "
             "model.router_correction_bias: true, or a DeepSeek-V3 checkpoint, has one)");
  }

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

  // From scratch, or after the last checkpoint of a killed attempt: the weights (and the reference
  // where it moves), the optimiser, the step and the prompt cursors; the sampling seeds follow
  // from the step.
  const auto& resume = ctx.resume_point(name);
  EvalResult before;
  int64_t first_step = 1;
  int64_t cursor = 0, chat_cursor = 0;
  if (resume) {
    load_stage_checkpoint(*resume, policy_model, optimizer, reference ? &reference : nullptr);
    engine.refresh_weights();
    first_step = resume->step + 1;
    before = EvalResult::from_summary(resume->state.value("eval_before", nlohmann::json::object()));
    // Dynamic sampling draws a varying number of prompts a step, so the cursors are saved; a
    // checkpoint from before they were is one where every step drew the same number.
    cursor = resume->state.value("cursor", resume->step * cfg.prompts_per_step);
    chat_cursor = resume->state.value("chat_cursor", resume->step * cfg.chat_prompts_per_step);
  } else {
    before = evaluate(engine, ctx, held_out, preference);
    ctx.progress().line(format_line("[%s] eval before: %s", tag, before.describe().c_str()));
    ctx.log_metrics(name, 0, before.metrics());
  }

  const int64_t run_id = ctx.run_id();
  ctx.progress().start(name, cfg.steps);
  // The language share of each trace: the reward's own component when it is one, else measured.
  const auto meter = language_meter(config);

  for (int64_t step = first_step; step <= cfg.steps; ++step) {
    const double step_started = ctx.progress().elapsed_seconds();
    // Rollouts. Without dynamic sampling: one round of prompts_per_step groups, all trained on.
    // With it (DAPO): groups whose rewards are all equal carry no advantage and are dropped, and
    // further rounds draw new prompts until the batch is full or the rounds run out.
    std::vector<ScoredSample> scored;  // every sample of the step, stored as traces
    std::vector<std::size_t> trained;  // indices into `scored` of the samples of the kept groups
    rewards::ScoringSummary scoring_summary;
    const int64_t wanted_groups = cfg.prompts_per_step + cfg.chat_prompts_per_step;
    int64_t rounds = 0, groups_dropped = 0;
    while (int64_t(trained.size()) < wanted_groups * cfg.grpo.group_size &&
           rounds < (cfg.grpo.dynamic_sampling ? cfg.grpo.dynamic_sampling_max_rounds : 1)) {
      std::vector<int64_t> indices;
      const int64_t missing = wanted_groups - int64_t(trained.size()) / cfg.grpo.group_size;
      // Round one draws the step's reasoning and chat prompts; refills draw reasoning prompts.
      const int64_t reasoning = rounds == 0 ? cfg.prompts_per_step : missing;
      for (int64_t i = 0; i < reasoning; ++i) indices.push_back(order[cursor++ % order.size()]);
      if (rounds == 0)
        for (int64_t i = 0; i < cfg.chat_prompts_per_step; ++i)
          indices.push_back(chat_order[(chat_cursor++) % chat_order.size()]);
      const uint64_t round_seed = config.run.seed * 7919ULL + uint64_t(step) + uint64_t(rounds) * 0x9e3779b97f4a7c15ULL;
      auto [round_samples, round_summary] = sample_and_score(engine, ctx, train, indices, cfg.grpo.group_size,
                                                             cfg.sampling, round_seed, reward, scoring);
      for (const auto& [part, counts] : round_summary.by_reward) scoring_summary.by_reward[part] += counts;
      scoring_summary.abandoned_calls += round_summary.abandoned_calls;
      ++rounds;
      for (std::size_t g = 0; g < round_samples.size(); g += std::size_t(cfg.grpo.group_size)) {
        double low = round_samples[g].reward.score, high = low;
        for (std::size_t i = g; i < g + std::size_t(cfg.grpo.group_size); ++i) {
          low = std::min(low, round_samples[i].reward.score);
          high = std::max(high, round_samples[i].reward.score);
        }
        const bool keep = (!cfg.grpo.dynamic_sampling || high > low) &&
                          int64_t(trained.size()) < wanted_groups * cfg.grpo.group_size;
        if (!keep) ++groups_dropped;
        for (std::size_t i = g; i < g + std::size_t(cfg.grpo.group_size); ++i) {
          if (keep) trained.push_back(scored.size());
          scored.push_back(std::move(round_samples[i]));
        }
      }
    }
    const double rollout_seconds = ctx.progress().elapsed_seconds() - step_started;

    // The learner's batch: the kept groups; truncated completions masked out where asked (DAPO).
    std::vector<float> advantage_of(scored.size(), 0.0f);
    rl::GrpoStepStats learned;
    double truncated = 0, learner_tokens = 0, loss_tokens = 0;
    for (const auto& item : scored) truncated += item.sample.finish_reason == rollout::FinishReason::length ? 1 : 0;
    if (!trained.empty()) {
      std::vector<rl::TokenSequence> sequences;
      for (auto i : trained) {
        const auto& item = scored[i];
        sequences.push_back({item.prompt_ids, item.sample.token_ids, item.sample.logprobs});
        learner_tokens += double(item.prompt_ids.size() + item.sample.token_ids.size());
      }
      auto batch = rl::pack(sequences, tokenizer.pad_id());
      if (cfg.grpo.mask_truncated)
        for (std::size_t row = 0; row < trained.size(); ++row)
          if (scored[trained[row]].sample.finish_reason == rollout::FinishReason::length) batch.loss_mask[int64_t(row)].zero_();
      loss_tokens = batch.loss_mask.sum().item<double>();
      torch::Tensor ref_logprobs;
      if (reference) {
        torch::NoGradGuard no_grad;
        ref_logprobs = rl::token_logprobs(reference, batch.input_ids).logprobs;
      }
      // Advantages from the group's rewards (less beta * the sample's KL when kl_in = reward).
      std::vector<float> reward_values;
      for (auto i : trained) reward_values.push_back(float(scored[i].reward.score));
      auto rewards_tensor = torch::tensor(reward_values);
      if (reference && cfg.grpo.kl_in == "reward")
        rewards_tensor -= cfg.grpo.kl_beta *
                          rl::sequence_kl(batch.old_logprobs, ref_logprobs, batch.loss_mask, cfg.grpo.kl_estimator);
      auto advantages = rl::compute_advantages(rewards_tensor, cfg.grpo.group_size, cfg.grpo.advantage);
      auto values = advantages.accessor<float, 1>();
      for (std::size_t row = 0; row < trained.size(); ++row) advantage_of[trained[row]] = values[int64_t(row)];
      learned = rl::grpo_update(policy_model, optimizer, batch, advantages, ref_logprobs, cfg.grpo,
                                config.run.seed * 104729ULL + uint64_t(step),
                                format_line("%s step %lld", tag, (long long)step));
      engine.refresh_weights();
    } else {
      ctx.progress().line(format_line("[%s] step %lld: every group's rewards were equal after %lld rounds; no update",
                                      tag, (long long)step, (long long)rounds));
    }
    if (reference && cfg.grpo.ref_refresh_every > 0 && step % cfg.grpo.ref_refresh_every == 0)
      policy::copy_weights(reference, policy_model);  // R1: the reference follows the policy every 400 steps
    const double learner_seconds = ctx.progress().elapsed_seconds() - step_started - rollout_seconds;

    // Traces and metrics.
    std::vector<sampling::TraceRecord> records;
    // accuracy, format, language: over the reasoning samples; preference: the chat samples' score
    double mean_reward = 0, accuracy = 0, format = 0, tokens = 0, max_tokens = 0, language = 0, preference_sum = 0;
    int64_t with_language = 0;  // samples with a share (the reward's component or the run's measure)
    int64_t chat_samples = 0;
    std::map<std::string, std::pair<double, double>> component_sums;  // name -> (sum, sum of squares)
    double reward_sq = 0;
    for (std::size_t i = 0; i < scored.size(); ++i) {
      const auto& item = scored[i];
      const bool chat = sampling::is_chat(train[item.prompt_index]);
      auto record = trace_record(name, step, item, train[item.prompt_index], chat ? nullptr : meter.get());
      record.advantage = advantage_of[i];
      mean_reward += item.reward.score;
      reward_sq += item.reward.score * item.reward.score;
      for (const auto& [component, value] : item.reward.components) {
        component_sums[component].first += value;
        component_sums[component].second += value * value;
      }
      tokens += double(item.sample.token_ids.size());
      max_tokens = std::max(max_tokens, double(item.sample.token_ids.size()));
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
    auto std_of = [](double sum, double sum_sq, double count) {
      return std::sqrt(std::max(0.0, sum_sq / count - (sum / count) * (sum / count)));
    };
    double advantage_sum = 0, advantage_sq = 0, advantage_abs_max = 0;
    for (auto i : trained) {
      advantage_sum += advantage_of[i];
      advantage_sq += double(advantage_of[i]) * advantage_of[i];
      advantage_abs_max = std::max(advantage_abs_max, std::abs(double(advantage_of[i])));
    }
    const double trained_n = std::max<double>(1.0, double(trained.size()));
    std::map<std::string, double> metrics{
        {"reward", mean_reward / n}, {"reward_std", std_of(mean_reward, reward_sq, n)},
        {"accuracy", accuracy / reasoning_n}, {"format", format / reasoning_n},
        {"preference", chat_samples > 0 ? preference_sum / double(chat_samples) : std::nan("")},
        {"language", with_language > 0 ? language / double(with_language) : std::nan("")},
        {"completion_tokens", tokens / n}, {"completion_tokens_max", max_tokens}, {"truncated_share", truncated / n},
        {"advantage_mean", advantage_sum / trained_n}, {"advantage_std", std_of(advantage_sum, advantage_sq, trained_n)},
        {"advantage_abs_max", advantage_abs_max},
        {"kl", learned.kl}, {"policy_loss", learned.policy_loss}, {"clip_fraction", learned.clip_fraction},
        {"clip_low_fraction", learned.clip_low_fraction}, {"clip_high_fraction", learned.clip_high_fraction},
        {"ratio_max", learned.ratio_max}, {"tis_weight_mean", learned.tis_weight_mean},
        {"grad_norm", learned.grad_norm}, {"lr", learned.lr}, {"updates", double(learned.updates)},
        {"entropy", learned.entropy}, {"aux_loss", learned.aux_loss},
        {"expert_load_imbalance", learned.expert_load_imbalance},
        {"mismatch_kl", learned.mismatch.kl}, {"mismatch_max_abs", learned.mismatch.max_abs},
        {"sampling_rounds", double(rounds)}, {"groups_dropped", double(groups_dropped)},
        {"trained_samples", double(trained.size())}, {"loss_tokens", loss_tokens},
        {"step_seconds", step_seconds}, {"rollout_seconds", rollout_seconds}, {"learner_seconds", learner_seconds},
        {"rollout_tokens_per_second", rollout_seconds > 0 ? tokens / rollout_seconds : 0.0},
        {"learner_tokens_per_second",
         learner_seconds > 0 ? learner_tokens * double(cfg.grpo.epochs) / learner_seconds : 0.0},
        {"reward_failures", double(scoring_summary.failures())}};
    for (const auto& [component, sums] : component_sums) {
      metrics["reward/" + component] = sums.first / n;
      metrics["reward/" + component + "_std"] = std_of(sums.first, sums.second, n);
    }
    ctx.log_metrics(name, step, metrics);
    ctx.progress().line(format_line(
        "[%s] step %3lld/%lld  reward %.3f  accuracy %.3f  format %.3f  length %5.1f  kl %.4f  %.1fs "
        "(rollout %.1fs)",
        tag, (long long)step, (long long)cfg.steps, mean_reward / n, accuracy / reasoning_n, format / reasoning_n,
        tokens / n, learned.kl, step_seconds, rollout_seconds) +
        (chat_samples > 0 ? format_line("  preference %.3f", preference_sum / double(chat_samples)) : std::string()) +
        (rounds > 1 || groups_dropped > 0
             ? format_line("  dropped %lld groups in %lld rounds", (long long)groups_dropped, (long long)rounds)
             : std::string()));
    ctx.progress().update(step, format_line("accuracy %.2f", accuracy / reasoning_n));
    if (cfg.checkpoint_every > 0 && step % cfg.checkpoint_every == 0 && step < cfg.steps) {
      // The traces and metrics of every step so far reach the store first: a checkpoint never
      // claims a step whose traces a kill could still lose.
      ctx.traces().flush(/*include_index=*/false);
      save_stage_checkpoint(ctx.stage_dir(name), step, policy_model, tokenizer, optimizer,
                            {{"eval_before", before.summary()}, {"steps", cfg.steps}, {"cursor", cursor},
                             {"chat_cursor", chat_cursor}},
                            reference && cfg.grpo.ref_refresh_every > 0 ? &reference : nullptr);
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
