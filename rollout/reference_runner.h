// A ModelRunner made only of the CUDA kernels' plain references, over host float arrays, called in
// the order and with the layouts the CUDA runner launches the kernels: RMSNorm
// (rmsnorm_reference.h), RoPE from the policy's tables (rotary.h), the K/V write into the paged
// pool, paged prefill attention (paged_prefill_attention.h; GQA, and MLA in the absorbed form),
// the router, permutation and combine (moe_routing.h), the grouped expert GEMMs (expert_ffn.h),
// and fused sampling (fused_sampling.h). Linear layers are plain loops (cuBLAS on the GPU).
//
// It exists so that the decomposition of the policy into those kernels — what each one is handed,
// in which layout, in which order — is checked on any machine against the CPU engine, before a
// GPU runs it: the paged engine on this runner must reproduce the CPU engine's greedy tokens on
// every HF family fixture. It is slow (scalar loops) and meant for tests and small models.
//
// Decisions:
// - The weights are copied out of the policy at construction, in fp32, through model_tensors()
//   (rollout/model_tensors.h, the walk the CUDA runner uploads from); refresh_weights() copies
//   them again.
// - Scores: scaled as the policy's attention (a division by scale() for r1_moe's float order
//   becomes a multiplication by its inverse, as in the kernels — a rounding difference only).
// - Records each token's experts per MoE layer when asked, as the TorchRunner does.
#pragma once

#include <cstdint>
#include <vector>

#include "policy/transformer.h"
#include "rollout/policy_runner.h"
#include "rollout/moe_routing.h"
#include "rollout/rotary_tables.h"

namespace r1::rollout {

struct ReferenceRunnerOptions {
  int64_t cache_bytes = int64_t{64} << 20;  // what free_cache_bytes() reports
  // The CUDA runner's bf16 mode (rollout/cuda/cuda_runner.h): every matrix but the router's
  // rounded to bf16, and the inputs of the GEMMs that read them (not the expert FFN's) too.
  bool bf16_weights = false;
  // The CUDA runner's bf16 K/V pool: rows rounded to bf16 as they are written.
  bool bf16_kv = false;
};

class ReferenceRunner : public PolicyRunner {
 public:
  explicit ReferenceRunner(policy::CausalLM model, ReferenceRunnerOptions options = {});

  KvCacheGeometry kv_geometry(int64_t block_tokens) const override;
  int64_t free_cache_bytes() const override { return options_.cache_bytes; }
  void allocate_cache(int64_t num_blocks, int64_t block_tokens) override;
  void copy_blocks(const std::vector<BlockCopy>& copies) override;
  StepOutputs step(const StepInputs& inputs) override;
  void refresh_weights() override;

  struct Linear {
    std::vector<float> weight;  // [out][in]
    std::vector<float> bias;    // [out] or empty
    int64_t out = 0, in = 0;
    bool bf16 = false;          // weight rounded to bf16; inputs are rounded too
  };
  struct Mlp {
    Linear gate, up, down;
  };

 private:
  struct Layer {
    std::vector<float> input_norm, post_norm;
    // GQA
    Linear q, k, v, o;
    std::vector<float> q_norm, k_norm;  // per-head RMSNorm (Qwen3) or empty
    // MLA
    Linear q_a, q_b, kv_a, kv_b;        // q_a/q_b empty when q_proj (in `q`) is used
    std::vector<float> q_a_norm, kv_a_norm;
    // Feed-forward: dense (mlp) or MoE
    bool moe = false;
    Mlp mlp;
    Linear router;
    RouterConfig routing;
    std::vector<float> w_gate, w_up, w_down;  // stacked experts [E][out][in]
    bool has_shared = false;
    Mlp shared;
    Linear shared_gate;  // Qwen2-MoE's sigmoid gate, or empty
  };
  std::vector<float> attention(int64_t index, const std::vector<float>& x, const StepInputs& in,
                               const std::vector<int32_t>& query_seqs);
  std::vector<float> gqa_attention(int64_t index, const std::vector<float>& x, const StepInputs& in,
                                   const std::vector<int32_t>& query_seqs);
  std::vector<float> mla_attention(int64_t index, const std::vector<float>& x, const StepInputs& in,
                                   const std::vector<int32_t>& query_seqs);
  // chosen: if given, receives the layer's routing, [tokens][top_k] (MoE layers only).
  std::vector<float> feed_forward(const Layer& layer, const std::vector<float>& x, int64_t tokens,
                                  std::vector<int32_t>* chosen);

  ReferenceRunnerOptions options_;
  RotaryTables rope_;
  std::vector<float> embed_, final_norm_;
  Linear lm_head_;
  std::vector<Layer> layers_;
  float scale_ = 1.0f;  // attention scores' multiplier
  int64_t block_tokens_ = 0, num_blocks_ = 0;
  std::vector<std::vector<float>> k_pool_, v_pool_;  // per layer; MLA: k_pool_ only
};

}  // namespace r1::rollout
