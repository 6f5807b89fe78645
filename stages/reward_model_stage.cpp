// Stage `reward_model`: a preference model on the SFT model's trunk, trained with the Bradley–Terry
// loss on pairs — from the trace store (an accepted and a rejected sample of the same prompt of a
// judged stage) and/or a JSONL file. Prompts are split into training and held-out sets by a hash
// of their text, so a prompt's pairs never straddle the two; the held-out pair accuracy says
// whether it learned the preference or the pairs.
#include <random>

#include "common/error.h"
#include "policy/checkpoint.h"
#include "policy/reward_model.h"
#include "rl/bradley_terry.h"
#include "rl/optimizer.h"
#include "sampling/preference_pairs.h"
#include "stages/stage.h"

namespace r1::stages {

namespace {

struct TokenPair {
  std::vector<int64_t> chosen, rejected;
};

// FNV-1a: the same split on every platform (std::hash is not specified).
double prompt_fraction(const std::string& prompt) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : prompt) h = (h ^ c) * 1099511628211ULL;
  return double(h >> 11) * 0x1.0p-53;
}

// Loss, accuracy and margin over `pairs`, in batches, without gradients.
rl::BradleyTerryTerms measure(policy::RewardModel& model, const std::vector<TokenPair>& pairs, int64_t pad_id) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> chosen, rejected;
  for (std::size_t begin = 0; begin < pairs.size(); begin += 64) {
    std::vector<std::vector<int64_t>> c, r;
    for (std::size_t i = begin; i < std::min(pairs.size(), begin + 64); ++i) {
      c.push_back(pairs[i].chosen);
      r.push_back(pairs[i].rejected);
    }
    chosen.push_back(policy::score_sequences(model, c, pad_id));
    rejected.push_back(policy::score_sequences(model, r, pad_id));
  }
  return rl::bradley_terry_loss(torch::cat(chosen), torch::cat(rejected));
}

StageSummary run_reward_model(RunContext& ctx) {
  const auto& config = ctx.config();
  const auto& cfg = config.reward_model;
  R1_CHECK(cfg.training.checkpoint_every == 0, "reward_model.training.checkpoint_every: this stage has no checkpoints "
           "(a killed one starts over); set 0");
  torch::manual_seed(config.run.seed + 13);
  const auto& tokenizer = ctx.tokenizer();
  auto trunk = policy::load_pretrained(ctx.resolve_model(cfg.init_from)).model;
  auto model = policy::reward_model_from(trunk);

  std::vector<sampling::PreferencePair> pairs;
  if (!cfg.pairs_from.empty()) {
    ctx.traces().flush(/*include_index=*/false);
    sampling::TraceStore store(ctx.traces().path(), /*read_only=*/true);
    pairs = sampling::preference_pairs_from_store(store, ctx.run_id(), cfg.pairs_from, cfg.max_pairs_per_prompt);
    ctx.progress().line(format_line("[reward_model] %lld pairs from the verdicts of %s", (long long)pairs.size(),
                                    cfg.pairs_from.c_str()));
  }
  if (!cfg.pairs_file.empty()) {
    auto from_file = sampling::load_preference_pairs_jsonl(cfg.pairs_file);
    ctx.progress().line(format_line("[reward_model] %lld pairs from %s", (long long)from_file.size(),
                                    cfg.pairs_file.c_str()));
    pairs.insert(pairs.end(), from_file.begin(), from_file.end());
  }

  const int64_t max_position = model->config().max_position;
  std::vector<TokenPair> train, held_out;
  for (const auto& pair : pairs) {
    TokenPair ids{policy::preference_ids(tokenizer, ctx.chat_template(), pair.prompt, pair.chosen, max_position),
                  policy::preference_ids(tokenizer, ctx.chat_template(), pair.prompt, pair.rejected, max_position)};
    (prompt_fraction(pair.prompt) < cfg.held_out_share ? held_out : train).push_back(std::move(ids));
  }
  R1_CHECK(!train.empty(), "reward_model: no training pairs (", pairs.size(), " pairs, ", held_out.size(),
           " held out): the verdicts of '", cfg.pairs_from, "' need prompts with both an accepted and a rejected ",
           "sample, or give reward_model.pairs_file");
  ctx.progress().line(format_line("[reward_model] %lld training pairs, %lld held out; trunk %s", (long long)train.size(),
                                  (long long)held_out.size(), cfg.init_from.c_str()));

  const auto& training = cfg.training;
  rl::Optimizer optimizer(model->parameters(), training.optimizer, training.steps);
  std::mt19937_64 rng(config.run.seed + 47);
  ctx.progress().start("reward_model", training.steps);
  double loss_sum = 0, accuracy_sum = 0;
  int64_t window = 0;
  for (int64_t step = 1; step <= training.steps; ++step) {
    std::vector<std::vector<int64_t>> sequences;  // the chosen halves, then the rejected
    std::vector<std::size_t> picks;
    for (int64_t b = 0; b < training.batch_size; ++b) picks.push_back(std::size_t(rng() % train.size()));
    for (auto i : picks) sequences.push_back(train[i].chosen);
    for (auto i : picks) sequences.push_back(train[i].rejected);
    const auto scores = policy::score_sequences(model, sequences, tokenizer.pad_id());
    auto terms = rl::bradley_terry_loss(scores.slice(0, 0, training.batch_size), scores.slice(0, training.batch_size));
    terms.loss.backward();
    const double lr = optimizer.current_lr();
    const double grad_norm = optimizer.step();
    loss_sum += terms.loss.item<double>();
    accuracy_sum += terms.accuracy;
    ++window;
    ctx.progress().update(step, format_line("loss %.3f", terms.loss.item<double>()));
    if (step % training.log_every == 0 || step == training.steps) {
      ctx.log_metrics("reward_model", step,
                      {{"loss", loss_sum / double(window)}, {"pair_accuracy", accuracy_sum / double(window)},
                       {"margin", terms.margin}, {"lr", lr}, {"grad_norm", grad_norm}});
      ctx.progress().line(format_line("[reward_model] step %4lld/%lld  loss %.4f  pair accuracy %.3f  margin %.2f",
                                      (long long)step, (long long)training.steps, loss_sum / double(window),
                                      accuracy_sum / double(window), terms.margin));
      loss_sum = accuracy_sum = 0;
      window = 0;
    }
  }
  ctx.progress().finish();
  policy::save_reward_model(ctx.model_dir("reward_model").string(), model, tokenizer, config.chat_template);

  StageSummary summary;
  const auto on_train = measure(model, train, tokenizer.pad_id());
  summary["pairs"] = int64_t(pairs.size());
  summary["train_pairs"] = int64_t(train.size());
  summary["train_pair_accuracy"] = on_train.accuracy;
  summary["held_out_pairs"] = int64_t(held_out.size());
  if (!held_out.empty()) {
    const auto on_held_out = measure(model, held_out, tokenizer.pad_id());
    summary["held_out_pair_accuracy"] = on_held_out.accuracy;
    summary["held_out_margin"] = on_held_out.margin;
    summary["held_out_loss"] = on_held_out.loss.item<double>();
    ctx.log_metrics("reward_model", training.steps,
                    {{"held_out_pair_accuracy", on_held_out.accuracy}, {"held_out_loss", on_held_out.loss.item<double>()}});
    ctx.progress().line(format_line("[reward_model] held-out pairs: accuracy %.3f  margin %.2f  loss %.4f (an untrained "
                                    "head: accuracy 0, loss 0.693); training pairs: accuracy %.3f",
                                    on_held_out.accuracy, on_held_out.margin, on_held_out.loss.item<double>(),
                                    on_train.accuracy));
  }
  summary["seconds"] = ctx.progress().elapsed_seconds();
  return summary;
}

}  // namespace

StageInfo reward_model_stage() {
  return {"reward_model",
          "a preference model (scalar head on the SFT trunk), Bradley-Terry on accepted-vs-rejected pairs from the store "
          "and/or a JSONL file",
          run_reward_model};
}

}  // namespace r1::stages
