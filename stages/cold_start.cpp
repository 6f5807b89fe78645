// Stage `cold_start`: the zero model writes chains of thought for training prompts; the correct,
// well-formed and readable ones (verdict.h), optionally rewritten into the readable format, become
// an SFT set on which the base model is fine-tuned — R1's cold-start data, made by its zero model.
#include "common/error.h"
#include "policy/checkpoint.h"
#include "rollout/cpu_engine.h"
#include "stages/engine_factory.h"
#include "stages/judged_sampling.h"
#include "stages/sft_loop.h"
#include "stages/stage.h"

namespace r1::stages {

namespace {

StageSummary run_cold_start(RunContext& ctx) {
  const auto& config = ctx.config();
  const auto& cfg = config.cold_start;
  torch::manual_seed(config.run.seed + 3);
  const auto& tokenizer = ctx.tokenizer();

  // Killed while training: the samples and verdicts are in the store (the runner kept them), so
  // the accepted ones are read back in the order they were judged instead of sampled again.
  const bool training_phase = resume_phase(ctx, "cold_start") == "training";
  nlohmann::json data;
  int64_t rounds = 0;
  std::vector<std::pair<std::string, std::string>> kept;  // (prompt, completion) that passed the verdict
  if (training_phase) {
    const auto state = resume_state(ctx, "cold_start");
    data = state.value("data", nlohmann::json::object());
    rounds = state.value("rounds", int64_t(0));
    kept = accepted_traces(ctx, "cold_start", "cold_start");
  } else {
    auto writer = policy::load_pretrained(ctx.resolve_model(cfg.sample_from)).model;
    rollout::CpuEngine sampler(writer, tokenizer);
    const auto problems = training_prompts(config, cfg.num_prompts, config.run.seed ^ 0xc01d57a7ULL);
    auto judged = sample_and_judge(ctx, "cold_start", sampler, problems, cfg.samples_per_prompt, cfg.sampling,
                                   cfg.verdict, config.run.seed * 104729ULL + 3);
    R1_CHECK(!judged.accepted.empty(), "cold_start: no sample of '", cfg.sample_from, "' passed the verdict (",
             judged.total, " judged); loosen cold_start.verdict or sample more (num_prompts, samples_per_prompt)");
    data = judged.summary();
    rounds = judged.rounds;
    for (const auto& item : judged.accepted) kept.emplace_back(problems[item.prompt_index].question, item.completion);
  }

  auto model = policy::load_pretrained(ctx.resolve_model(cfg.init_from)).model;
  std::vector<rl::TokenSequence> examples;
  for (const auto& [question, completion] : kept)
    examples.push_back(sft_sequence(ctx, "cold_start", question, cfg.rewrite ? rewrite_readable(completion) : completion,
                                    model->config().max_position));
  // Training steps are logged after the sampling rounds' steps, so a checkpoint's step keeps every trace.
  const auto trained = train_sft(ctx, "cold_start", model, examples, cfg.training, config.run.seed + 31,
                                 {"training", {{"data", data}, {"rounds", rounds}}, rounds});
  policy::save_pretrained(ctx.model_dir("cold_start").string(), model, tokenizer, config.chat_template);

  const auto engine_owner = make_engine(config.engine, model, tokenizer);
  rollout::Engine& engine = *engine_owner;
  const auto eval = evaluate(engine, ctx, eval_problems(config));
  ctx.progress().line(format_line("[cold_start] eval: %s", eval.describe().c_str()));
  ctx.log_metrics("cold_start", rounds + cfg.training.steps, eval.metrics());
  auto summary = eval.summary();
  summary["data"] = data;
  summary["sft_examples"] = int64_t(examples.size());
  summary["final_loss"] = trained.final_loss;
  summary["seconds"] = ctx.progress().elapsed_seconds();
  return summary;
}

}  // namespace

StageInfo cold_start_stage() {
  return {"cold_start",
          "sample the zero model, keep correct and readable chains of thought, SFT the base model on them",
          run_cold_start};
}

}  // namespace r1::stages
