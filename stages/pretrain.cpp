// Stage `pretrain`: next-token training of the built-in model on the synthetic corpus of worked
// solutions (with its deliberate flaws) — our stand-in for a base model.
#include <cstdio>
#include <random>

#include "common/error.h"
#include "policy/checkpoint.h"
#include "rl/optimizer.h"
#include "rl/token_batch.h"
#include "rollout/cpu_engine.h"
#include "stages/rollout_scoring.h"
#include "stages/stage.h"

namespace r1::stages {

namespace {

StageSummary run_pretrain(RunContext& ctx) {
  const auto& config = ctx.config();
  const auto& cfg = config.pretrain;
  torch::manual_seed(config.run.seed);
  const auto& tokenizer = ctx.tokenizer();

  auto model_config = config.model;
  if (model_config.vocab_size == 0) model_config.vocab_size = tokenizer.vocab_size();
  policy::CausalLM model(model_config);

  auto corpus = sampling::generate_corpus(config.task, cfg.flaws, cfg.corpus_size, config.run.seed);
  std::vector<rl::TokenSequence> sequences;
  double correct = 0, well_formed = 0, drifted = 0;
  for (const auto& item : corpus) {
    rl::TokenSequence seq;
    seq.prompt_ids = tokenizer.encode(ctx.chat_template().render(item.problem.question));
    seq.completion_ids = tokenizer.encode(item.completion);
    seq.completion_ids.push_back(tokenizer.eos_id());
    R1_CHECK(int64_t(seq.prompt_ids.size() + seq.completion_ids.size()) <= model_config.max_position,
             "pretrain: a corpus sample of ", seq.prompt_ids.size() + seq.completion_ids.size(),
             " tokens exceeds model.max_position ", model_config.max_position);
    sequences.push_back(std::move(seq));
    correct += item.correct;
    well_formed += item.well_formed;
    drifted += item.drifted;
  }
  const double n = double(corpus.size());
  ctx.progress().line(format_line(
      "[pretrain] model: %lld parameters (%s); corpus: %lld samples, %.0f%% correct, %.0f%% well-formed, %.0f%% "
      "drifting language",
      (long long)model->num_parameters(), model_config.is_moe() ? "MoE" : "dense", (long long)corpus.size(),
      100 * correct / n, 100 * well_formed / n, 100 * drifted / n));

  rl::Optimizer optimizer(model->parameters(), cfg.optimizer, cfg.steps);
  std::mt19937_64 rng(config.run.seed + 17);
  std::uniform_int_distribution<std::size_t> pick(0, sequences.size() - 1);
  ctx.progress().start("pretrain", cfg.steps);
  double loss_avg = 0.0, tokens = 0.0, last_loss = 0.0;
  int64_t window = 0;
  for (int64_t step = 1; step <= cfg.steps; ++step) {
    std::vector<rl::TokenSequence> batch;
    for (int64_t b = 0; b < cfg.batch_size; ++b) batch.push_back(sequences[pick(rng)]);
    auto packed = rl::pack(batch, tokenizer.pad_id(), cfg.train_on_prompt);
    auto out = rl::token_logprobs(model, packed.input_ids);
    auto nll = -rl::masked_mean(out.logprobs, packed.loss_mask);
    auto loss = nll + model_config.router_aux_loss_coef * out.aux_loss;
    loss.backward();
    const double lr = optimizer.current_lr();
    const double grad_norm = optimizer.step();
    last_loss = nll.item<double>();
    loss_avg += last_loss;
    tokens += packed.loss_mask.sum().item<double>();
    ++window;
    ctx.progress().update(step, format_line("loss %.3f", last_loss));
    if (step % cfg.log_every == 0 || step == cfg.steps) {
      const double seconds = ctx.progress().elapsed_seconds();
      ctx.log_metrics("pretrain", step,
                      {{"loss", loss_avg / window}, {"lr", lr}, {"grad_norm", grad_norm}, {"aux_loss", out.aux_loss.item<double>()}});
      ctx.progress().line(format_line("[pretrain] step %4lld/%lld  loss %.4f  lr %.2e  grad %.2f  %.0f tok/s",
                                      (long long)step, (long long)cfg.steps, loss_avg / window, lr, grad_norm,
                                      tokens / std::max(seconds, 1e-9)));
      loss_avg = 0.0;
      window = 0;
    }
  }
  ctx.progress().finish();
  policy::save_pretrained(ctx.model_dir("pretrain").string(), model, tokenizer, config.chat_template);

  rollout::CpuEngine engine(model, tokenizer);
  auto eval = evaluate(engine, ctx, eval_problems(config));
  ctx.progress().line(format_line("[pretrain] eval: accuracy %.3f  format %.3f  length %.1f tokens", eval.accuracy,
                                  eval.format, eval.mean_tokens));
  ctx.log_metrics("pretrain", cfg.steps,
                  {{"eval_accuracy", eval.accuracy}, {"eval_format", eval.format}, {"eval_tokens", eval.mean_tokens}});
  return {{"final_loss", last_loss},
          {"eval_accuracy", eval.accuracy},
          {"eval_format", eval.format},
          {"eval_tokens", eval.mean_tokens},
          {"parameters", model->num_parameters()},
          {"seconds", ctx.progress().elapsed_seconds()}};
}

}  // namespace

StageInfo pretrain_stage() {
  return {"pretrain", "next-token training of the built-in model on the synthetic worked-solution corpus", run_pretrain};
}

}  // namespace r1::stages
