// Stage `rejection_sampling`: many samples per prompt from the reasoning-RL model; every sample,
// its reward components and the verdict with its reason go into the trace store, where the
// accepted ones are the SFT set that `sft` and `distill` read. With chat_prompts, non-reasoning
// prompts are sampled and judged (by the chat labeller) beside the reasoning ones.
#include "common/error.h"
#include "policy/checkpoint.h"
#include "rollout/cpu_engine.h"
#include "sampling/chat_task.h"
#include "stages/engine_factory.h"
#include "stages/judged_sampling.h"
#include "stages/stage.h"

namespace r1::stages {

namespace {

StageSummary run_rejection_sampling(RunContext& ctx) {
  const auto& config = ctx.config();
  const auto& cfg = config.rejection_sampling;
  torch::manual_seed(config.run.seed + 5);
  auto model = policy::load_pretrained(ctx.resolve_model(cfg.sample_from)).model;
  const auto engine_owner = make_engine(ctx.config().engine, model, ctx.tokenizer());
  rollout::Engine& engine = *engine_owner;
  auto problems = training_prompts(config, cfg.num_prompts, config.run.seed ^ 0x2e1ec7edULL);
  for (auto& chat : sampling::generate_chat_prompts(std::size_t(cfg.chat_prompts), config.run.seed ^ 0xc4a72e1eULL))
    problems.push_back(std::move(chat));  // after the reasoning prompts: prompt indices stay distinct
  auto judged = sample_and_judge(ctx, "rejection_sampling", engine, problems, cfg.samples_per_prompt, cfg.sampling,
                                 cfg.verdict, config.run.seed * 130363ULL + 5);
  ctx.traces().flush();  // the SFT set is in the store before the stage counts as done
  auto summary = judged.summary();
  summary["seconds"] = ctx.progress().elapsed_seconds();
  return summary;
}

}  // namespace

StageInfo rejection_sampling_stage() {
  return {"rejection_sampling",
          "many samples per prompt from the reasoning-RL model; every sample and its verdict into the trace store",
          run_rejection_sampling};
}

}  // namespace r1::stages
