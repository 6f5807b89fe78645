// What the paged rollout engine (rollout/paged_engine.h) asks of a device: hold the paged K/V pool,
// copy blocks, run one forward step over a flat batch of tokens that write into and attend through
// that pool, and draw the step's samples from its logits. The engine owns everything else —
// scheduling, block tables, seeds, stop conditions — so a CPU runner (rollout/torch_runner.h) and a
// CUDA runner differ only in how they compute, and the CPU one checks the engine's logic for real.
//
// A step's tokens are laid out flat: for each sequence in the step, its tokens are
// tokens[begin, begin + length) at positions [context - length, context), and they attend causally
// over the sequence's positions [0, context) found through its block table. A decode entry is one
// token; a prefill chunk is `length` tokens. Every token's K/V is written at its slot before any
// token attends, so a chunk sees itself.
#pragma once

#include <cstdint>
#include <vector>

#include "rollout/engine_weights.h"  // WeightRefresh
#include "rollout/fused_sampling.h"
#include "rollout/paged_kv.h"

namespace r1::rollout {

struct StepSequence {
  int64_t begin = 0;    // first token of this sequence in StepInputs::tokens
  int64_t length = 0;   // its tokens in this step (1 for a decode)
  int64_t context = 0;  // positions it attends over, this step's included
  int64_t table = 0;    // its row in StepInputs::block_tables
};

// One draw: sample a token from the logits after tokens[token].
struct StepDraw {
  int64_t token = 0;
  FusedSamplingParams params;
};

struct StepInputs {
  std::vector<int32_t> tokens;     // [n]
  std::vector<int32_t> positions;  // [n]
  std::vector<int64_t> slots;      // [n] block * block_tokens + offset: where each token's K/V goes
  std::vector<StepSequence> sequences;
  std::vector<int32_t> block_tables;  // [sequences][max_blocks], -1 past a table's end
  int64_t max_blocks = 0;
  std::vector<StepDraw> draws;
  bool record_experts = false;  // fill StepOutputs::routed_experts
};

struct StepOutputs {
  std::vector<FusedSample> samples;      // one per draw, in order
  std::vector<int32_t> routed_experts;   // if asked: [n][moe layers][top_k]
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t max_position() const = 0;
  // The shape of the KV pool, for blocks of `block_tokens` positions.
  virtual KvCacheGeometry kv_geometry(int64_t block_tokens) const = 0;
  virtual int64_t moe_layers() const = 0;   // 0 for a dense model
  virtual int64_t experts_per_token() const = 0;
  // The memory the KV pool may take (device memory free after weights and workspace, or a budget).
  virtual int64_t free_cache_bytes() const = 0;
  // (Re)allocates the pool; earlier contents are lost.
  virtual void allocate_cache(int64_t num_blocks, int64_t block_tokens) = 0;
  // Runs before the step's forward (copy on write): dst's first `tokens` positions = src's, every layer.
  virtual void copy_blocks(const std::vector<BlockCopy>& copies) = 0;
  virtual StepOutputs step(const StepInputs& inputs) = 0;
  // The learner's parameters changed: re-read them (a no-op for a runner that uses them in place).
  virtual void refresh_weights() = 0;
  // What the last refresh (or the construction's fill) moved; all zero for a runner that reads
  // the learner's tensors in place.
  virtual WeightRefresh last_refresh() const { return {}; }
};

}  // namespace r1::rollout
