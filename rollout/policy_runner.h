// What every ModelRunner of the policy's models (the LibTorch runner, the reference runner, the
// CUDA runner) answers from the model alone: vocabulary, positions, MoE layers and top-k, and the
// shape of the paged K/V pool for that model.
#pragma once

#include <cstdint>

#include "policy/transformer.h"
#include "rollout/model_runner.h"

namespace r1::rollout {

// The paged pool's shape for `c`: K and V per kv head (GQA), or one absorbed-MLA row per token
// (latent + RoPE key, kv_heads 1, shared_kv).
KvCacheGeometry model_kv_geometry(const policy::ModelConfig& c, int64_t block_tokens, int64_t bytes_per_element);

class PolicyRunner : public ModelRunner {
 public:
  int64_t vocab_size() const override { return config().vocab_size; }
  int64_t max_position() const override { return config().max_position; }
  int64_t moe_layers() const override { return config().num_moe_layers(); }
  int64_t experts_per_token() const override { return config().is_moe() ? config().num_experts_per_token : 0; }

 protected:
  explicit PolicyRunner(policy::CausalLM model) : model_(std::move(model)) {}
  const policy::ModelConfig& config() const { return model_->config(); }
  policy::CausalLM model_;
};

}  // namespace r1::rollout
