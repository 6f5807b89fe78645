// The whole run's configuration: one typed struct composed of the module configs, bound once from
// the YAML file (plus --set overrides) and written back, resolved, into the run directory.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "policy/chat_template.h"
#include "policy/model_config.h"
#include "rewards/word_lists.h"
#include "rl/grpo.h"
#include "rewards/scoring.h"
#include "rl/optimizer.h"
#include "rollout/engine.h"
#include "rollout/engine_config.h"
#include "sampling/arithmetic_task.h"
#include "sampling/chat_task.h"
#include "stages/sft_config.h"
#include "stages/verdict.h"

namespace r1::stages {

struct RunConfig {
  std::string name = "r1";
  std::string dir = "runs/r1";  // the run directory; --run-dir overrides
  uint64_t seed = 1;
  int64_t threads = 2;          // intra-op threads for LibTorch on the CPU
  // The language chains of thought should be in: every stored trace gets its share of words in it
  // (the language_consistency measure), whether or not a stage rewards it. "" skips the measure.
  std::string language = "en";

  template <class V>
  void visit(V& v) {
    v("name", name);
    v("dir", dir);
    v("seed", seed);
    v("threads", threads);
    v("language", language);
    v.check(!name.empty(), "name", "must not be empty");
    v.check(threads >= 1 && threads <= 256, "threads", "must be in [1, 256]");
    v.check(language.empty() || rewards::language_named(language).has_value(), "language",
            std::string("must be one of ") + rewards::supported_languages() + " (or \"\" to measure none)");
  }
};

// Held-out prompts scored before and after a stage, with fixed seeds, so stages compare fairly.
struct EvalConfig {
  int64_t num_prompts = 64;
  int64_t samples_per_prompt = 4;
  int64_t chat_prompts = 0;  // held-out chat prompts: the share of replies the labeller prefers
  rollout::SamplingParams sampling;

  template <class V>
  void visit(V& v) {
    v("num_prompts", num_prompts);
    v("samples_per_prompt", samples_per_prompt);
    v("chat_prompts", chat_prompts);
    v("sampling", sampling);
    v.check(num_prompts >= 1, "num_prompts", "must be >= 1");
    v.check(chat_prompts >= 0, "chat_prompts", "must be >= 0");
    v.check(samples_per_prompt >= 1, "samples_per_prompt", "must be >= 1");
  }
};

// `pretrain`: next-token training of the built-in model on the synthetic worked-solution corpus.
// The training keys (steps, batch_size, train_on_prompt, optimizer, log_every) sit beside the corpus's.
struct PretrainConfig {
  int64_t corpus_size = 6000;
  sampling::CorpusFlawsConfig flaws;
  int64_t chat_corpus_size = 0;  // non-reasoning documents (sampling/chat_task.h) mixed in
  sampling::ChatFlawsConfig chat_flaws;
  SftConfig training = sft_defaults(300, 32, true);

  template <class V>
  void visit(V& v) {
    v("corpus_size", corpus_size);
    v("flaws", flaws);
    v("chat_corpus_size", chat_corpus_size);
    v("chat_flaws", chat_flaws);
    training.visit(v);
    v.check(corpus_size >= 1, "corpus_size", "must be >= 1");
    v.check(chat_corpus_size >= 0, "chat_corpus_size", "must be >= 0");
  }
};

// How an RL stage scores: the time limit per reward call and what a failed call does (rewards/scoring.h).
struct RewardScoringConfig {
  int64_t timeout_ms = 0;            // 0: no limit (built-in rule rewards); set it for plug-ins
  std::string on_failure = "zero";   // zero: the sample scores 0, counted in reward_failures; stop: end the run
  int64_t batch_size = 16;           // items per call (an http plug-in: per request)
  int64_t max_abandoned = 8;         // calls left over their limit in one batch before the rest are skipped

  template <class V>
  void visit(V& v) {
    v("timeout_ms", timeout_ms);
    v("on_failure", on_failure);
    v("batch_size", batch_size);
    v("max_abandoned", max_abandoned);
    v.check(timeout_ms >= 0, "timeout_ms", "must be >= 0 (0: no limit)");
    v.check(on_failure == "zero" || on_failure == "stop", "on_failure", "must be zero or stop");
    v.check(batch_size >= 1, "batch_size", "must be >= 1");
    v.check(max_abandoned >= 0, "max_abandoned", "must be >= 0");
  }
  rewards::ScoringOptions options(int threads) const;
};

// An RL stage: GRPO from `init_from` with the named rewards (zero, reasoning_rl, final_rl).
struct GrpoStageConfig {
  std::string init_from = "pretrain";  // a stage of this run, or a checkpoint directory
  int64_t steps = 40;
  int64_t prompts_per_step = 8;
  int64_t num_train_prompts = 2000;  // the prompt pool, drawn in a seeded shuffled order
  rl::GrpoConfig grpo;
  rollout::SamplingParams sampling;
  rl::OptimizerConfig optimizer;
  // name: weight, or name: {weight, reward: REGISTERED_NAME, ...its options} (plug-ins: http, command)
  nlohmann::json rewards = {{"accuracy", 1.0}, {"format", 0.5}};
  RewardScoringConfig reward_scoring;
  // Non-reasoning (chat) prompts beside the reasoning ones, scored by `preference_rewards` instead
  // of `rewards` (R1's final stage: rule rewards for reasoning, the preference model for the rest).
  // A reward_model entry's `model` may name a stage of this run.
  int64_t chat_prompts_per_step = 0;
  int64_t num_chat_prompts = 1000;
  nlohmann::json preference_rewards = nlohmann::json::object();
  // Every this many steps the stage saves a checkpoint (stage_checkpoint.h) that a killed run goes
  // on from; 0: never (a killed stage starts over).
  int64_t checkpoint_every = 10;

  template <class V>
  void visit(V& v) {
    v("init_from", init_from);
    v("steps", steps);
    v("prompts_per_step", prompts_per_step);
    v("num_train_prompts", num_train_prompts);
    v("grpo", grpo);
    v("sampling", sampling);
    v("optimizer", optimizer);
    v("rewards", rewards);
    v("reward_scoring", reward_scoring);
    v("chat_prompts_per_step", chat_prompts_per_step);
    v("num_chat_prompts", num_chat_prompts);
    v("preference_rewards", preference_rewards);
    v("checkpoint_every", checkpoint_every);
    v.check(steps >= 1, "steps", "must be >= 1");
    v.check(checkpoint_every >= 0, "checkpoint_every", "must be >= 0 (0: no checkpoints)");
    v.check(chat_prompts_per_step >= 0, "chat_prompts_per_step", "must be >= 0");
    v.check(num_chat_prompts >= chat_prompts_per_step, "num_chat_prompts", "must be >= chat_prompts_per_step");
    v.check(chat_prompts_per_step == 0 || (preference_rewards.is_object() && !preference_rewards.empty()),
            "preference_rewards", "must name at least one reward when chat_prompts_per_step > 0");
    v.check(prompts_per_step >= 1, "prompts_per_step", "must be >= 1");
    v.check(num_train_prompts >= prompts_per_step, "num_train_prompts", "must be >= prompts_per_step");
    v.check(rewards.is_object() && !rewards.empty(), "rewards",
            "must be a map naming at least one reward (name: weight, or name: {weight, reward, ...options})");
  }
};

// `cold_start`: sample the zero model, keep the correct and readable completions (verdict.h),
// optionally rewrite them into the readable format, and SFT the base model on them.
struct ColdStartConfig {
  std::string sample_from = "zero";    // the model that writes the chains of thought
  std::string init_from = "pretrain";  // the model fine-tuned on them (R1: the base)
  int64_t num_prompts = 512;           // training prompts sampled (distinct from the held-out ones)
  int64_t samples_per_prompt = 4;
  rollout::SamplingParams sampling;
  VerdictConfig verdict;
  bool rewrite = false;  // close each kept chain of thought with a one-line summary paragraph (verdict.h)
  SftConfig training = sft_defaults(200, 16);

  template <class V>
  void visit(V& v) {
    v("sample_from", sample_from);
    v("init_from", init_from);
    v("num_prompts", num_prompts);
    v("samples_per_prompt", samples_per_prompt);
    v("sampling", sampling);
    v("verdict", verdict);
    v("rewrite", rewrite);
    v("training", training);
    v.check(num_prompts >= 1, "num_prompts", "must be >= 1");
    v.check(samples_per_prompt >= 1, "samples_per_prompt", "must be >= 1");
  }
};

// `rejection_sampling`: many samples per prompt from the reasoning-RL model; every one stored with
// its rewards and verdict; the accepted ones are the SFT set.
struct RejectionSamplingConfig {
  std::string sample_from = "reasoning_rl";
  int64_t num_prompts = 512;
  // Non-reasoning prompts sampled too and judged by the chat labeller (sampling/chat_task.h): their
  // accepted replies join the SFT set, the analogue of R1's 200k non-reasoning samples beside 600k.
  int64_t chat_prompts = 0;
  int64_t samples_per_prompt = 8;
  rollout::SamplingParams sampling;
  VerdictConfig verdict;

  template <class V>
  void visit(V& v) {
    v("sample_from", sample_from);
    v("num_prompts", num_prompts);
    v("chat_prompts", chat_prompts);
    v.check(chat_prompts >= 0, "chat_prompts", "must be >= 0");
    v("samples_per_prompt", samples_per_prompt);
    v("sampling", sampling);
    v("verdict", verdict);
    v.check(num_prompts >= 1, "num_prompts", "must be >= 1");
    v.check(samples_per_prompt >= 1, "samples_per_prompt", "must be >= 1");
  }
};

// `sft` and `distill`: SFT of `init_from` (or, for distill, a fresh student pretrained on the corpus)
// on the accepted traces of `traces_from`, read from the trace store.
struct TraceSftConfig {
  std::string init_from = "pretrain";
  std::string traces_from = "rejection_sampling";
  SftConfig training = sft_defaults(300, 16);

  template <class V>
  void visit(V& v) {
    v("init_from", init_from);
    v("traces_from", traces_from);
    v("training", training);
    v.check(!traces_from.empty(), "traces_from", "must name the stage whose accepted traces to learn");
  }
};

// `distill`: the student is its own preset; its baseline is the same student pretrained on the
// corpus alone (`pretrain` steps), and the stage then fine-tunes it on the traces.
struct DistillConfig {
  std::string student_preset = "tiny-student";
  // A smaller checkpoint (a directory, or a stage of this run) to distill into instead of a fresh
  // preset; its baseline is then itself as loaded, evaluated before the traces.
  std::string student_from;
  std::string traces_from = "rejection_sampling";
  SftConfig pretrain = sft_defaults(600, 16, false);
  SftConfig training = sft_defaults(300, 16);

  template <class V>
  void visit(V& v) {
    v("student_preset", student_preset);
    v("student_from", student_from);
    v("traces_from", traces_from);
    v("pretrain", pretrain);
    v("training", training);
  }
};

// `reward_model`: a preference model on `init_from`'s trunk, trained with the Bradley–Terry loss
// on pairs from the store (accepted versus rejected samples of one prompt of `pairs_from`) and/or a
// JSONL file. A share of the prompts is held out to measure pair accuracy.
struct RewardModelStageConfig {
  std::string init_from = "sft";
  std::string pairs_from = "rejection_sampling";  // "" for none
  std::string pairs_file;                          // {"prompt", "chosen", "rejected"} per line; "" for none
  int64_t max_pairs_per_prompt = 4;
  double held_out_share = 0.1;
  SftConfig training = sft_defaults(200, 16);  // batch_size: pairs per step (train_on_prompt is unused)

  template <class V>
  void visit(V& v) {
    v("init_from", init_from);
    v("pairs_from", pairs_from);
    v("pairs_file", pairs_file);
    v("max_pairs_per_prompt", max_pairs_per_prompt);
    v("held_out_share", held_out_share);
    v("training", training);
    v.check(!pairs_from.empty() || !pairs_file.empty(), "pairs_from", "give pairs_from, pairs_file or both");
    v.check(max_pairs_per_prompt >= 1, "max_pairs_per_prompt", "must be >= 1");
    v.check(held_out_share >= 0 && held_out_share < 1, "held_out_share", "must be in [0, 1)");
  }
};

// reasoning_rl: GRPO from the cold-start model, language consistency added to the rule rewards.
inline GrpoStageConfig reasoning_rl_defaults() {
  GrpoStageConfig config;
  config.init_from = "cold_start";
  config.rewards = {{"accuracy", 1.0}, {"format", 0.5}, {"language_consistency", 0.5}};
  return config;
}

// final_rl: GRPO from the SFT model; rule rewards for reasoning prompts, the reward model for chat.
inline GrpoStageConfig final_rl_defaults() {
  GrpoStageConfig config = reasoning_rl_defaults();
  config.init_from = "sft";
  config.chat_prompts_per_step = 4;
  config.preference_rewards = {{"reward_model", {{"weight", 1.0}, {"model", "reward_model"}}}};
  return config;
}

// Where prompts come from: the synthetic task (`task`), or JSONL files of {"question", "answer"}
// a line (GSM8K's format; a "#### N" tail of the answer is the reference). Saying `files` makes
// both paths required, so a forgotten --set cannot quietly train on synthetic arithmetic.
struct DataConfig {
  std::string source = "synthetic";  // synthetic | files
  std::string train;  // the prompt pool of zero, cold_start, reasoning_rl, rejection_sampling, final_rl
  std::string test;   // the held-out prompts (its first eval.num_prompts rows)

  template <class V>
  void visit(V& v) {
    v("source", source);
    v("train", train);
    v("test", test);
    v.check(source == "synthetic" || source == "files", "source", "must be synthetic or files");
    v.check(source != "files" || !train.empty(), "train", "is required when data.source is files (a JSONL file)");
    v.check(source != "files" || !test.empty(), "test", "is required when data.source is files (a JSONL file)");
    v.check(source == "files" || (train.empty() && test.empty()), "source",
            "is synthetic but data.train/data.test are set; say source: files to use them");
  }
  bool from_files() const { return source == "files"; }
};

struct PipelineConfig {
  RunConfig run;
  std::vector<std::string> stages = {"pretrain", "zero"};  // run in this order
  policy::ModelConfig model;
  // A checkpoint directory (Hugging Face layout, or one r1 wrote) that stages may name "base" in
  // init_from / sample_from: the starting model of a run on a real model. "" for none.
  std::string base;
  std::string tokenizer = "byte";  // "byte" (built-in), "base" (the base checkpoint's), or a checkpoint directory
  rollout::EngineConfig engine;    // what every stage generates with
  DataConfig data;
  policy::TemplateConfig chat_template;
  sampling::ArithmeticTaskConfig task;
  EvalConfig eval;
  PretrainConfig pretrain;
  GrpoStageConfig zero;
  ColdStartConfig cold_start;
  GrpoStageConfig reasoning_rl = reasoning_rl_defaults();
  RejectionSamplingConfig rejection_sampling;
  TraceSftConfig sft;
  RewardModelStageConfig reward_model;
  GrpoStageConfig final_rl = final_rl_defaults();
  DistillConfig distill;

  template <class V>
  void visit(V& v) {
    v("run", run);
    v("stages", stages);
    v("model", model);
    v("base", base);
    v("tokenizer", tokenizer);
    v("engine", engine);
    v("data", data);
    v("template", chat_template);
    v("task", task);
    v("eval", eval);
    v("pretrain", pretrain);
    v("zero", zero);
    v("cold_start", cold_start);
    v("reasoning_rl", reasoning_rl);
    v("rejection_sampling", rejection_sampling);
    v("sft", sft);
    v("reward_model", reward_model);
    v("final_rl", final_rl);
    v("distill", distill);
    v.check(!stages.empty(), "stages", "must list at least one stage");
    v.check(!tokenizer.empty(), "tokenizer", "must be \"byte\", \"base\" or a checkpoint directory");
    v.check(tokenizer != "base" || !base.empty(), "tokenizer", "is \"base\" but no base checkpoint is set (base: DIR)");
  }
};

// Reads CONFIG.yaml with overrides ("a.b=v"); the model section starts from its preset's values.
PipelineConfig load_pipeline_config(const std::string& path, const std::vector<std::string>& overrides);

}  // namespace r1::stages
