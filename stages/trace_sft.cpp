// Stages `sft` and `distill`: supervised fine-tuning on the accepted traces of an earlier stage,
// read back from the trace store. `sft` tunes the base model (R1's second SFT round); `distill`
// tunes a smaller student of its own preset, and first trains the same student on the corpus
// alone, the baseline it must beat.
#include "common/error.h"
#include "policy/checkpoint.h"
#include "rollout/cpu_engine.h"
#include "stages/engine_factory.h"
#include "stages/rollout_scoring.h"
#include "stages/sft_loop.h"
#include "stages/stage.h"

namespace r1::stages {

namespace {

// The accepted traces of `stage` in this run, as SFT examples.
std::vector<rl::TokenSequence> accepted_examples(RunContext& ctx, const std::string& reader, const std::string& stage,
                                                 int64_t max_position) {
  std::vector<rl::TokenSequence> examples;
  for (const auto& [prompt, completion] : accepted_traces(ctx, reader, stage))
    examples.push_back(sft_sequence(ctx, reader, prompt, completion, max_position));
  return examples;
}

EvalResult evaluate_model(RunContext& ctx, policy::CausalLM& model) {
  const auto engine_owner = make_engine(ctx.config().engine, model, ctx.tokenizer());
  rollout::Engine& engine = *engine_owner;
  return evaluate(engine, ctx, eval_problems(ctx.config()));
}

StageSummary run_sft(RunContext& ctx) {
  const auto& config = ctx.config();
  const auto& cfg = config.sft;
  torch::manual_seed(config.run.seed + 7);
  auto model = policy::load_pretrained(ctx.resolve_model(cfg.init_from)).model;
  const auto examples = accepted_examples(ctx, "sft", cfg.traces_from, model->config().max_position);
  const auto trained = train_sft(ctx, "sft", model, examples, cfg.training, config.run.seed + 37, {"sft"});
  policy::save_pretrained(ctx.model_dir("sft").string(), model, ctx.tokenizer(), config.chat_template);
  const auto eval = evaluate_model(ctx, model);
  ctx.progress().line(format_line("[sft] eval: %s", eval.describe().c_str()));
  ctx.log_metrics("sft", cfg.training.steps, eval.metrics());
  auto summary = eval.summary();
  summary["sft_examples"] = int64_t(examples.size());
  summary["final_loss"] = trained.final_loss;
  summary["seconds"] = ctx.progress().elapsed_seconds();
  return summary;
}

StageSummary run_distill(RunContext& ctx) {
  const auto& config = ctx.config();
  const auto& cfg = config.distill;
  torch::manual_seed(config.run.seed + 11);
  // A run killed while the student learned the traces goes on there: the baseline was measured
  // and saved before, and its figures are in the checkpoint.
  const bool student_phase = resume_phase(ctx, "distill") == "student";
  policy::CausalLM student{nullptr};
  EvalResult baseline;
  if (!cfg.student_from.empty()) {
    // A real student: its baseline is itself before the traces.
    student = policy::load_pretrained(ctx.resolve_model(cfg.student_from)).model;
    R1_CHECK(student->config().vocab_size >= ctx.tokenizer().vocab_size(), "distill.student_from: '", cfg.student_from,
             "' has a vocabulary of ", student->config().vocab_size, ", the run's tokenizer needs ",
             ctx.tokenizer().vocab_size());
    ctx.progress().line(format_line("[distill] student %s: %lld parameters", cfg.student_from.c_str(),
                                    (long long)student->num_parameters()));
    if (!student_phase) baseline = evaluate_model(ctx, student);
  } else {
    R1_CHECK(!config.data.from_files(), "distill.student_from: this run trains on ", config.data.train,
             ", so give a smaller checkpoint to distill into; a fresh ", cfg.student_preset,
             " student would learn from the synthetic corpus instead");
    auto student_config = policy::preset_config(cfg.student_preset);
    student_config.vocab_size = ctx.tokenizer().vocab_size();
    student_config.max_position = config.model.max_position;
    student = policy::CausalLM(student_config);
    ctx.progress().line(format_line("[distill] student %s: %lld parameters; first the corpus alone",
                                    cfg.student_preset.c_str(), (long long)student->num_parameters()));
    if (!student_phase) {
      // The baseline: the student trained on the corpus alone, as the base model was.
      const auto corpus = sampling::generate_corpus(config.task, config.pretrain.flaws, config.pretrain.corpus_size,
                                                    config.run.seed);
      std::vector<rl::TokenSequence> documents;
      for (const auto& item : corpus)
        documents.push_back(
            sft_sequence(ctx, "distill", item.problem.question, item.completion, student_config.max_position));
      train_sft(ctx, "distill", student, documents, cfg.pretrain, config.run.seed + 41, {"baseline"});
      baseline = evaluate_model(ctx, student);
    }
  }
  if (student_phase) {
    baseline = EvalResult::from_summary(resume_state(ctx, "distill").value("baseline", nlohmann::json::object()));
  } else {
    policy::save_pretrained((ctx.stage_dir("distill") / "baseline").string(), student, ctx.tokenizer(),
                            config.chat_template);
  }
  ctx.progress().line(format_line("[distill] student without the traces: %s", baseline.describe().c_str()));

  const auto examples = accepted_examples(ctx, "distill", cfg.traces_from, student->config().max_position);
  const auto trained = train_sft(ctx, "distill", student, examples, cfg.training, config.run.seed + 43,
                                  {"student", {{"baseline", baseline.summary()}}, cfg.student_from.empty() ? cfg.pretrain.steps : 0});
  policy::save_pretrained(ctx.model_dir("distill").string(), student, ctx.tokenizer(), config.chat_template);
  const auto eval = evaluate_model(ctx, student);
  ctx.progress().line(format_line("[distill] student with the traces:    %s", eval.describe().c_str()));
  ctx.log_metrics("distill", (cfg.student_from.empty() ? cfg.pretrain.steps : 0) + cfg.training.steps, eval.metrics());
  auto summary = eval.summary();
  summary["baseline"] = baseline.summary();
  summary["student_parameters"] = student->num_parameters();
  summary["sft_examples"] = int64_t(examples.size());
  summary["final_loss"] = trained.final_loss;
  summary["seconds"] = ctx.progress().elapsed_seconds();
  return summary;
}

}  // namespace

StageInfo sft_stage() {
  return {"sft", "SFT of the base model on the accepted traces of rejection sampling, read from the trace store", run_sft};
}

StageInfo distill_stage() {
  return {"distill", "SFT of a smaller student on the same accepted traces, against the student without them",
          run_distill};
}

}  // namespace r1::stages
