// The paged rollout engine: continuous batching (rollout/batch_scheduler.h) over a paged KV cache
// (rollout/paged_kv.h), one forward step at a time on a ModelRunner (rollout/model_runner.h), with
// Philox sampling (rollout/fused_sampling.h). The same engine drives the CPU runner
// (rollout/torch_runner.h), which makes its logic testable on any machine, and a CUDA runner.
//
// Decisions:
// - A GRPO group is one scheduler entry: its prompt is prefilled once and the G samples fork off it,
//   sharing the prompt's blocks (copy on write at the first divergent block).
// - Sample s of a request draws with Philox key (request.seed, s) mixed into 64 bits, at counter =
//   the number of tokens it has generated. Its tokens are thus a function of the seed alone: not of
//   the batch, the step it ran in, nor of a preemption (a preempted sample is recomputed from its
//   prompt and tokens and continues at the same counter). The CPU engine draws from LibTorch's
//   generator instead, so the two agree token for token only at temperature 0.
// - A request whose prompt plus max_tokens exceeds the model's max_position, or whose samples
//   exceed the scheduler's max_running, is refused before anything runs (R1_CHECK).
// - The KV pool is sized once, at construction: num_blocks, or as many blocks as
//   memory_fraction of the runner's free_cache_bytes() holds.
#pragma once

#include <memory>

#include "policy/tokenizer.h"
#include "rollout/batch_scheduler.h"
#include "rollout/engine.h"
#include "rollout/model_runner.h"

namespace r1::rollout {

struct PagedEngineConfig {
  SchedulerConfig scheduler;
  int64_t block_tokens = 16;
  int64_t num_blocks = 0;        // 0: from memory_fraction of the runner's free_cache_bytes()
  double memory_fraction = 0.9;  // in (0, 1]
  bool record_experts = false;   // fill Sample::routed_experts (MoE models)
};

// What the last generate() did, for benchmarks and tests.
struct PagedEngineStats {
  int64_t steps = 0;
  int64_t decode_tokens = 0;
  int64_t prefill_tokens = 0;
  int64_t block_copies = 0;
  int64_t preemptions = 0;
  int64_t max_batch_tokens = 0;  // most tokens in one step
};

class PagedEngine : public Engine {
 public:
  // `tokenizer` must outlive the engine (EOS and the text of stop strings).
  PagedEngine(std::unique_ptr<ModelRunner> runner, const policy::Tokenizer& tokenizer, PagedEngineConfig config);
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& requests) override;
  void refresh_weights() override { runner_->refresh_weights(); }

  int64_t num_blocks() const { return num_blocks_; }
  const PagedEngineStats& last_stats() const { return stats_; }
  ModelRunner& runner() { return *runner_; }

 private:
  std::unique_ptr<ModelRunner> runner_;
  const policy::Tokenizer& tokenizer_;
  PagedEngineConfig config_;
  int64_t num_blocks_ = 0;
  PagedEngineStats stats_;
};

// The Philox key of sample `sample` of a request seeded `seed` (Decisions).
uint64_t sample_key(uint64_t seed, int64_t sample);

}  // namespace r1::rollout
