// Which rollout engine a run generates with, and its settings: the `engine:` section of a run's
// config, bound once (common/config.h) and handed to stages/engine_factory.h.
//
// Decisions:
// - kind "cpu" (the default): the CPU engine (rollout/cpu_engine.h), one batched KV cache per
//   request. "paged": the paged engine (continuous batching, paged KV, copy on write) on the
//   LibTorch runner, on whatever device the policy is. "cuda": the paged engine on the CUDA runner
//   (rollout/cuda/cuda_runner.h), in a build with the CUDA toolkit, on a machine with a GPU.
// - The engines draw samples differently (the CPU engine's sampler; Philox per (seed, sample) in
//   the paged one), so a run's samples depend on the kind; each kind is deterministic by seed.
#pragma once

#include <cstdint>
#include <string>

namespace r1::rollout {

struct EngineConfig {
  std::string kind = "cpu";             // cpu, paged or cuda
  int64_t block_tokens = 16;            // paged KV: positions per block
  int64_t num_blocks = 0;               // 0: from memory_fraction of the runner's free memory
  double memory_fraction = 0.9;         // in (0, 1]
  int64_t max_tokens_per_step = 2048;   // scheduler: decode + prefill tokens in one forward
  int64_t max_running = 256;            // scheduler: admitted sequences
  int64_t prefill_chunk = 512;          // scheduler: prompt tokens of one sequence per step
  bool batch_invariant = false;         // paged/cuda: a sequence's bits do not depend on its batch
  bool bf16_weights = true;             // cuda: the runner's weights in bf16 (false: fp32)
  bool bf16_kv = true;                  // cuda: the K/V pool in bf16 (false: fp32)
  bool cuda_graphs = true;              // cuda: decode steps as CUDA graphs

  template <class V>
  void visit(V& v) {
    v("kind", kind);
    v("block_tokens", block_tokens);
    v("num_blocks", num_blocks);
    v("memory_fraction", memory_fraction);
    v("max_tokens_per_step", max_tokens_per_step);
    v("max_running", max_running);
    v("prefill_chunk", prefill_chunk);
    v("batch_invariant", batch_invariant);
    v("bf16_weights", bf16_weights);
    v("bf16_kv", bf16_kv);
    v("cuda_graphs", cuda_graphs);
    v.check(kind == "cpu" || kind == "paged" || kind == "cuda", "kind", "must be cpu, paged or cuda");
    v.check(block_tokens >= 1, "block_tokens", "must be >= 1");
    v.check(num_blocks >= 0, "num_blocks", "must be >= 0 (0: sized from memory)");
    v.check(memory_fraction > 0 && memory_fraction <= 1, "memory_fraction", "must be in (0, 1]");
    v.check(max_tokens_per_step >= 1, "max_tokens_per_step", "must be >= 1");
    v.check(max_running >= 1, "max_running", "must be >= 1");
    v.check(prefill_chunk >= 1, "prefill_chunk", "must be >= 1");
  }
};

}  // namespace r1::rollout
