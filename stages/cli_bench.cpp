// `r1 bench rollout|learner|rewards|store|tokenizer`: throughput of the CPU engine and the learner on a built-in preset,
// each against a baseline measured in the same run, so the figure is a ratio that survives a
// change of machine. The last line of output is one JSON object.
#include <chrono>
#include <iostream>
#include <random>

#include <torch/torch.h>

#include "common/error.h"
#include "policy/tokenizer.h"
#include "policy/tokenizer_bench.h"
#include "rewards/bench.h"
#include "sampling/store_bench.h"
#include "rl/grpo.h"
#include "rl/grpo_update.h"
#include "rl/optimizer.h"
#include "rl/token_batch.h"
#include "rollout/cpu_engine.h"
#include "rollout/paged_engine.h"
#include "rollout/shape_bench.h"
#if defined(R1_HAVE_CUDA_RUNNER)
#include "rollout/cuda/cuda_runner.h"
#endif
#include "rollout/torch_runner.h"
#include "stages/cli.h"
#include "stages/cpu_threads.h"

namespace r1::cli {

namespace {

struct BenchOptions {
  std::string preset = "tiny";
  int64_t batch = 32;          // sequences (rollout: 4 prompts x batch/4 samples)
  int64_t prompt_tokens = 96;  // like the demo's templated questions
  int64_t new_tokens = 64;     // completion length (rollout: generated; learner: trained on)
  int64_t repeats = 3;         // timed repetitions after one warm-up; the best is reported
  int threads = 2;
  uint64_t seed = 0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Best wall time of `repeats` runs of fn after one warm-up run.
template <class Fn>
double best_seconds(int64_t repeats, Fn&& fn) {
  fn();
  double best = 1e300;
  for (int64_t i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, seconds_since(start));
  }
  return best;
}

policy::CausalLM bench_model(const BenchOptions& o) {
  torch::manual_seed(int64_t(o.seed));
  auto config = policy::preset_config(o.preset);
  if (config.vocab_size == 0) config.vocab_size = policy::ByteTokenizer().vocab_size();
  config.max_position = std::max(config.max_position, o.prompt_tokens + o.new_tokens + 1);
  policy::CausalLM model(config);
  model->eval();
  return model;
}

// Byte ids (no special tokens), so a random prompt never holds an EOS.
std::vector<int64_t> random_ids(int64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> byte(0, 255);
  std::vector<int64_t> ids(count);
  for (auto& id : ids) id = byte(rng);
  return ids;
}

// The CPU engine (prompt prefilled once per request, KV cache, batched decode) against the same
// model decoding without a cache: one full forward over prompt + completion so far per new token.
// The baseline always produces new_tokens per sequence; the engine's figure counts the tokens it
// produced (a random model rarely emits EOS early).
nlohmann::json bench_rollout(const BenchOptions& o) {
  auto model = bench_model(o);
  policy::ByteTokenizer tokenizer;
  const int64_t groups = std::max<int64_t>(1, o.batch / 8);
  const int64_t per_group = std::max<int64_t>(1, o.batch / groups);
  std::vector<rollout::GenerationRequest> requests;
  for (int64_t g = 0; g < groups; ++g) {
    rollout::GenerationRequest request;
    request.prompt_ids = random_ids(o.prompt_tokens, o.seed + g);
    request.num_samples = per_group;
    request.params.max_tokens = o.new_tokens;
    request.seed = o.seed + uint64_t(g);
    requests.push_back(std::move(request));
  }
  rollout::CpuEngine engine(model, tokenizer);
  int64_t engine_tokens = 0;
  const double engine_seconds = best_seconds(o.repeats, [&] {
    engine_tokens = 0;
    for (const auto& result : engine.generate(requests))
      for (const auto& sample : result.samples) engine_tokens += int64_t(sample.token_ids.size());
  });

  // The paged engine on the same model and requests (its own Philox draws, so its tokens differ).
  rollout::PagedEngineConfig paged_config;
  paged_config.scheduler.max_running = std::max<int64_t>(groups * per_group, 1);
  paged_config.scheduler.max_tokens_per_step = std::max<int64_t>(2048, paged_config.scheduler.max_running);
  rollout::TorchRunnerOptions runner_options;
  rollout::PagedEngine paged(std::make_unique<rollout::TorchRunner>(model, runner_options), tokenizer, paged_config);
  int64_t paged_tokens = 0;
  const double paged_seconds = best_seconds(o.repeats, [&] {
    paged_tokens = 0;
    for (const auto& result : paged.generate(requests))
      for (const auto& sample : result.samples) paged_tokens += int64_t(sample.token_ids.size());
  });

  // Baseline: recompute everything for every token, greedy, same batch.
  const int64_t rows = groups * per_group;
  const double recompute_seconds = best_seconds(std::max<int64_t>(1, o.repeats / 2), [&] {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> prompts;
    for (const auto& request : requests)
      prompts.push_back(torch::tensor(request.prompt_ids).unsqueeze(0).expand({per_group, -1}));
    auto ids = torch::cat(prompts, 0).contiguous();
    for (int64_t t = 0; t < o.new_tokens; ++t) {
      auto out = model->forward(ids);
      auto next = model->logits(out.hidden.select(1, -1)).argmax(-1, /*keepdim=*/true);
      ids = torch::cat({ids, next}, 1);
    }
  });
  const double recompute_tokens = double(rows * o.new_tokens);
  const double engine_rate = double(engine_tokens) / engine_seconds;
  const double recompute_rate = recompute_tokens / recompute_seconds;
  return {{"bench", "rollout"},
          {"preset", o.preset},
          {"parameters", model->num_parameters()},
          {"sequences", rows},
          {"prompt_tokens", o.prompt_tokens},
          {"max_new_tokens", o.new_tokens},
          {"threads", o.threads},
          {"engine_tokens", engine_tokens},
          {"engine_seconds", engine_seconds},
          {"engine_tokens_per_s", engine_rate},
          {"recompute_tokens_per_s", recompute_rate},
          {"speedup_vs_recompute", engine_rate / recompute_rate},
          {"paged_tokens_per_s", double(paged_tokens) / paged_seconds},
          {"paged_vs_cpu_engine", double(paged_tokens) / paged_seconds / engine_rate}};
}

// One GRPO learner step (forward, loss, backward, AdamW) on batch x (prompt + completion) tokens,
// against a forward pass alone over the same batch (the floor a training step cannot beat).
nlohmann::json bench_learner(const BenchOptions& o) {
  auto model = bench_model(o);
  model->train();
  policy::ByteTokenizer tokenizer;
  std::vector<rl::TokenSequence> sequences;
  for (int64_t i = 0; i < o.batch; ++i) {
    rl::TokenSequence sequence;
    sequence.prompt_ids = random_ids(o.prompt_tokens, o.seed + i);
    sequence.completion_ids = random_ids(o.new_tokens, o.seed + 1000 + i);
    sequence.completion_logprobs.assign(o.new_tokens, -5.5f);
    sequences.push_back(std::move(sequence));
  }
  auto batch = rl::pack(sequences, tokenizer.pad_id());
  auto advantages = torch::randn({o.batch});
  rl::GrpoConfig grpo;
  grpo.group_size = std::min<int64_t>(8, o.batch);
  grpo.kl_beta = 0.0;
  rl::OptimizerConfig optimizer_config;
  optimizer_config.lr = 1e-5;
  rl::Optimizer optimizer(model->parameters(), optimizer_config, 1000);

  // One GRPO learner step as the stages run it (rl/grpo_update.h), then the same step with every
  // layer recomputed in the backward (activation checkpointing): its cost in time.
  auto learner_step = [&] { rl::grpo_update(model, optimizer, batch, advantages, {}, grpo, o.seed, "bench"); };
  const double step_seconds = best_seconds(o.repeats, learner_step);
  grpo.activation_checkpointing = true;
  const double checkpointed_seconds = best_seconds(o.repeats, learner_step);
  grpo.activation_checkpointing = false;
  const double forward_seconds = best_seconds(o.repeats, [&] {
    torch::NoGradGuard no_grad;
    rl::token_logprobs(model, batch.input_ids);
  });
  const double tokens = double(batch.input_ids.numel());
  const double completion_tokens = double(o.batch * o.new_tokens);
  return {{"bench", "learner"},
          {"preset", o.preset},
          {"parameters", model->num_parameters()},
          {"sequences", o.batch},
          {"tokens_per_step", tokens},
          {"threads", o.threads},
          {"step_seconds", step_seconds},
          {"train_tokens_per_s", tokens / step_seconds},
          {"train_completion_tokens_per_s", completion_tokens / step_seconds},
          {"forward_tokens_per_s", tokens / forward_seconds},
          {"step_vs_forward_time", step_seconds / forward_seconds},
          {"checkpointed_step_seconds", checkpointed_seconds},
          {"checkpointed_vs_plain_time", checkpointed_seconds / step_seconds}};
}

void add_common_options(CLI::App* cmd, BenchOptions& o) {
  cmd->add_option("--preset", o.preset, "built-in model preset")->capture_default_str();
  cmd->add_option("--batch", o.batch, "sequences per batch")->capture_default_str();
  cmd->add_option("--prompt-tokens", o.prompt_tokens, "prompt length")->capture_default_str();
  cmd->add_option("--new-tokens", o.new_tokens, "completion length")->capture_default_str();
  cmd->add_option("--repeats", o.repeats, "timed repetitions (best reported)")->capture_default_str();
  cmd->add_option("--threads", o.threads, "CPU threads")->capture_default_str();
  cmd->add_option("--seed", o.seed, "seed for weights and token ids")->capture_default_str();
}

void check(const BenchOptions& o) {
  R1_CHECK(o.batch >= 1 && o.prompt_tokens >= 1 && o.new_tokens >= 1 && o.repeats >= 1 && o.threads >= 1,
           "bench: --batch, --prompt-tokens, --new-tokens, --repeats and --threads must be >= 1");
  stages::configure_cpu_threads(o.threads, 1);
}

// The rule rewards R1 runs with, against `format` alone (one pass over the text) as the baseline.
nlohmann::json bench_reward_scoring(int64_t completions, int threads) {
  auto result = rewards::bench_rewards(completions, threads);
  auto baseline = rewards::bench_rewards(completions, threads, {{"format", 1.0}});
  result["bench"] = "rewards";
  result["format_only_per_second"] = baseline["per_second"];
  result["time_vs_format_only"] = result["seconds"].get<double>() / baseline["seconds"].get<double>();
  return result;
}

}  // namespace

void add_bench_commands(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "measure throughput; the last line of output is one JSON object");
  bench->require_subcommand(1);
  auto options = std::make_shared<BenchOptions>();

  auto* rollout_cmd = bench->add_subcommand(
      "rollout",
      "CPU and paged engine tokens/s on a random-weight preset, against decoding without a KV cache; with --shapes, "
      "the paged engine at real model shapes against the memory-bandwidth roofline and transformers' generate()");
  add_common_options(rollout_cmd, *options);
  auto shapes = std::make_shared<rollout::ShapeBenchOptions>();
  auto* shapes_opt = rollout_cmd->add_option("--shapes", shapes->shapes, "real shapes: qwen2.5-0.5b, olmoe-1b-7b")
                         ->delimiter(',');
  rollout_cmd->add_option("--batches", shapes->batches, "with --shapes: batch sizes")->delimiter(',')->capture_default_str();
  rollout_cmd->add_option("--layers", shapes->layers, "with --shapes: cut each shape to this many layers (0: all)")
      ->capture_default_str();
  rollout_cmd->add_option("--device", shapes->device, "with --shapes: auto, cuda or cpu")->capture_default_str();
  rollout_cmd->add_option("--dtype", shapes->dtype, "with --shapes: bfloat16 or float32")->capture_default_str();
  rollout_cmd->add_option("--runner", shapes->runner, "with --shapes: torch (LibTorch), cuda (the CUDA kernels and cuBLAS) or null (the engine loop alone)")
      ->capture_default_str();
#if defined(R1_HAVE_CUDA_RUNNER)
  shapes->cuda_runner = [](policy::CausalLM model, bool bf16) -> std::unique_ptr<rollout::ModelRunner> {
    rollout::CudaRunnerOptions options;
    options.bf16_weights = bf16;
    options.bf16_kv = bf16;  // the roofline counts K/V in the bench's dtype
    return std::make_unique<rollout::CudaRunner>(model, options);
  };
#endif
  rollout_cmd->add_option("--hf-script", shapes->hf_script, "with --shapes: the transformers baseline ('' skips it)")
      ->capture_default_str();
  rollout_cmd->callback([options, shapes, shapes_opt, rollout_cmd] {
    check(*options);
    if (shapes_opt->count() == 0) {
      std::cout << bench_rollout(*options).dump() << std::endl;
      return;
    }
    // The shape bench's own workload (prompt 128, 512 new tokens) unless given.
    if (rollout_cmd->count("--prompt-tokens")) shapes->prompt_tokens = options->prompt_tokens;
    if (rollout_cmd->count("--new-tokens")) shapes->new_tokens = options->new_tokens;
    shapes->seed = options->seed;
    std::cout << rollout::bench_rollout_shapes(*shapes, std::cerr).dump() << std::endl;
  });

  auto* learner_cmd = bench->add_subcommand(
      "learner", "GRPO learner step tokens/s (forward, backward, AdamW), against a forward pass alone");
  add_common_options(learner_cmd, *options);
  learner_cmd->callback([options] {
    check(*options);
    std::cout << bench_learner(*options).dump() << std::endl;
  });

  auto completions = std::make_shared<int64_t>(10000);
  auto reward_threads = std::make_shared<int>(1);
  auto* rewards_cmd = bench->add_subcommand(
      "rewards", "math_accuracy + format + language_consistency on typical completions, against format alone");
  rewards_cmd->add_option("--completions", *completions, "completions to score")->capture_default_str();
  rewards_cmd->add_option("--threads", *reward_threads, "scoring threads (1: the calling thread)")->capture_default_str();
  rewards_cmd->callback([completions, reward_threads] {
    std::cout << bench_reward_scoring(*completions, *reward_threads).dump() << std::endl;
  });

  auto tokenizer_path = std::make_shared<std::string>();
  auto tokenizer_mb = std::make_shared<double>(8.0);
  auto tokenizer_repeats = std::make_shared<int64_t>(3);
  auto tokenizer_seed = std::make_shared<uint64_t>(0);
  auto* tokenizer_cmd = bench->add_subcommand(
      "tokenizer", "encode MB/s of a tokenizer on one thread over generated mixed text (English, German, Russian, "
                   "CJK, numbers, code, emoji, special tokens): first pass with a cold word cache, then the best of "
                   "--repeats; decode MB/s and whether every document round-trips");
  tokenizer_cmd->add_option("--tokenizer", *tokenizer_path, "as for r1 tokenize: \"byte\", a directory with tokenizer.json, or the file")
      ->required();
  tokenizer_cmd->add_option("--mb", *tokenizer_mb, "megabytes (10^6 bytes) of text")->capture_default_str();
  tokenizer_cmd->add_option("--repeats", *tokenizer_repeats, "timed passes after the first (best reported)")->capture_default_str();
  tokenizer_cmd->add_option("--seed", *tokenizer_seed, "text generator seed")->capture_default_str();
  tokenizer_cmd->callback([tokenizer_path, tokenizer_mb, tokenizer_repeats, tokenizer_seed] {
    R1_CHECK(*tokenizer_mb > 0, "bench tokenizer: --mb must be positive");
    const auto start = std::chrono::steady_clock::now();
    auto tokenizer = policy::load_tokenizer(*tokenizer_path);
    const double load_seconds = seconds_since(start);
    auto result = policy::bench_tokenizer(*tokenizer, std::size_t(*tokenizer_mb * 1e6), *tokenizer_repeats, *tokenizer_seed);
    result["bench"] = "tokenizer";
    result["tokenizer"] = *tokenizer_path;
    result["kind"] = tokenizer->kind();
    result["load_seconds"] = load_seconds;
    std::cout << result.dump() << std::endl;
  });

  auto store = std::make_shared<sampling::StoreBenchOptions>();
  auto keep_only = std::make_shared<bool>(false);
  auto* store_cmd = bench->add_subcommand(
      "store", "trace store: inserts/s through the writer thread and the viewer's query latencies at scale, "
               "against plain one-table inserts");
  store_cmd->add_option("--samples", store->samples, "traces to generate")->capture_default_str();
  store_cmd->add_option("--db", store->db, "build the store here and keep it (default: a temporary file)");
  store_cmd->add_option("--batch", store->batch, "samples per add_samples call")->capture_default_str();
  store_cmd->add_option("--repeats", store->repeats, "timed runs of each query (median)")->capture_default_str();
  store_cmd->add_option("--seed", store->seed, "generator seed")->capture_default_str();
  store_cmd->add_flag("--generate-only", *keep_only, "only write the generated traces to --db (no timing)");
  store_cmd->callback([store, keep_only] {
    if (*keep_only) {
      R1_CHECK(!store->db.empty(), "--generate-only needs --db");
      sampling::write_synthetic_traces(store->db, store->samples, store->seed, store->batch);
      std::cout << nlohmann::json{{"db", store->db}, {"samples", store->samples}}.dump() << std::endl;
      return;
    }
    std::cout << sampling::bench_store(*store).dump() << std::endl;
  });
}

}  // namespace r1::cli
