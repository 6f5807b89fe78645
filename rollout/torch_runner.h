// The CPU model runner of the paged engine: the policy's own LibTorch modules (shared with the
// learner, so a refresh costs nothing; or the engine's own bf16 copy, EngineWeights, refreshed in
// one pass) with attention over a paged KV pool instead of the policy's dense cache. It is what the CUDA runner is checked against, and it runs the engine's scheduling,
// block sharing and copy on write for real on any machine.
//
// Decisions:
// - The pool is one tensor per layer, [num_blocks * block_tokens, kv_heads, head_dim] for K and
//   for V, in the model's dtype: the layout of rollout/paged_attention.h, so a slot index
//   (block * block_tokens + offset) addresses one token's heads.
// - MLA caches the absorbed form (DeepSeek-V2 section 2.1.2): per token and layer one vector, the
//   normalised latent (kv_lora_rank) followed by the rotated RoPE key (qk_rope_head_dim), shared
//   by all heads. The query's no-RoPE part is multiplied into latent space by kv_b_proj's key rows
//   (q_nope W_UK), scores are taken against [latent; k_rope], the weights average the latents, and
//   kv_b_proj's value rows (W_UV) lift the result per head. Exactly the policy's MLA in exact
//   arithmetic; a factor kv_heads * (nope + v) / (rank + rope) less cache per token.
// - Attention numerics are the policy's (policy::masked_attention), queries attending causally
//   over positions [0, their own].
// - batch_invariant: every token runs through the model alone, in position order within its
//   sequence, and its logits alone, so a sequence's logprobs and tokens are bit for bit the same
//   whatever else is in the step (the matrix products then always have one row). Slower: one
//   forward per token.
#pragma once

#include <memory>

#include "policy/transformer.h"
#include "rollout/engine_weights.h"
#include "rollout/policy_runner.h"

namespace r1::rollout {

struct TorchRunnerOptions {
  bool batch_invariant = false;
  int64_t cache_bytes = int64_t{256} << 20;  // what free_cache_bytes() reports: the KV pool's budget
};

class TorchRunner : public PolicyRunner {
 public:
  explicit TorchRunner(policy::CausalLM model, TorchRunnerOptions options = {});
  // Runs on the engine's own copy of the learner (EngineWeights: bf16 on the GPU, say), which
  // refresh_weights() re-reads from the learner in one pass.
  explicit TorchRunner(std::shared_ptr<EngineWeights> weights, TorchRunnerOptions options = {});

  KvCacheGeometry kv_geometry(int64_t block_tokens) const override;
  int64_t free_cache_bytes() const override { return options_.cache_bytes; }
  void allocate_cache(int64_t num_blocks, int64_t block_tokens) override;
  void copy_blocks(const std::vector<BlockCopy>& copies) override;
  StepOutputs step(const StepInputs& inputs) override;
  void refresh_weights() override;
  // What the last refresh moved (all zeros when the runner uses the learner's tensors in place).
  WeightRefresh last_refresh() const override { return weights_ ? weights_->last_refresh() : WeightRefresh{}; }

 private:
  // Tokens [offset, offset + count) of step sequence `sequence`.
  struct Piece {
    int64_t sequence = 0, offset = 0, count = 0;
  };
  struct PieceKeys {
    torch::Tensor slots;  // [context] int64: the pool rows of positions [0, context)
    torch::Tensor mask;   // [1, 1, count, context] bool: causal
    int64_t row = 0;      // first row of the piece among the forward's tokens
  };
  // Final hidden states [tokens, hidden] of the pieces' tokens, in order; writes their K/V and, when
  // `experts` is given, appends each token's routing ([moe layers][top_k]).
  torch::Tensor forward(const StepInputs& in, const std::vector<Piece>& pieces, std::vector<int32_t>* experts);
  torch::Tensor attention(int64_t layer, const torch::Tensor& normed, const policy::RotaryEmbedding::Angles& angles,
                          const torch::Tensor& slots, const std::vector<PieceKeys>& keys);

  std::shared_ptr<EngineWeights> weights_;  // set when the runner has its own copy of the weights
  TorchRunnerOptions options_;
  int64_t block_tokens_ = 0;
  std::vector<torch::Tensor> k_pool_, v_pool_;  // per layer; MLA: k_pool_ only
};

}  // namespace r1::rollout
