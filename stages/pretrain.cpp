// Stage `pretrain`: next-token training of the built-in model on the synthetic corpus of worked
// solutions (with its deliberate flaws) — our stand-in for a base model.

#include "common/error.h"
#include "policy/checkpoint.h"
#include "rollout/cpu_engine.h"
#include "sampling/chat_task.h"
#include "stages/engine_factory.h"
#include "stages/rollout_scoring.h"
#include "stages/sft_loop.h"
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
    sequences.push_back(
        sft_sequence(ctx, "pretrain", item.problem.question, item.completion, model_config.max_position));
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
  if (cfg.chat_corpus_size > 0) {
    // Non-reasoning documents with their own flaws: the base model has seen chat, imperfectly.
    const auto chat = sampling::generate_chat_corpus(cfg.chat_flaws, std::size_t(cfg.chat_corpus_size), config.run.seed);
    double preferred = 0;
    for (const auto& doc : chat) {
      sequences.push_back(sft_sequence(ctx, "pretrain", doc.problem.question, doc.completion, model_config.max_position));
      preferred += doc.flaw.empty();
    }
    ctx.progress().line(format_line("[pretrain] chat corpus: %lld replies, %.0f%% preferred", (long long)chat.size(),
                                    100 * preferred / double(chat.size())));
  }

  const auto trained = train_sft(ctx, "pretrain", model, sequences, cfg.training, config.run.seed + 17, {"pretrain"});
  policy::save_pretrained(ctx.model_dir("pretrain").string(), model, tokenizer, config.chat_template);

  const auto engine_owner = make_engine(config.engine, model, tokenizer);
  rollout::Engine& engine = *engine_owner;
  auto eval = evaluate(engine, ctx, eval_problems(config));
  ctx.progress().line(format_line("[pretrain] eval: %s", eval.describe().c_str()));
  ctx.log_metrics("pretrain", cfg.training.steps, eval.metrics());
  auto summary = eval.summary();
  summary["final_loss"] = trained.final_loss;
  summary["parameters"] = model->num_parameters();
  summary["seconds"] = ctx.progress().elapsed_seconds();
  return summary;
}

}  // namespace

StageInfo pretrain_stage() {
  return {"pretrain", "next-token training of the built-in model on the synthetic corpus of worked solutions", run_pretrain};
}

}  // namespace r1::stages
