// The MoE router on the GPU: the launcher and its parameters. The kernel knows logits of fp32 on
// the device and nothing of models; what it computes, ties and the group mask included, is
// route() in rollout/moe_routing.h, its reference.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace r1::rollout::kernels {

// The largest expert count and top-k the kernel takes: a token's scores live in shared memory
// (2 * experts floats a warp), and lane j of the warp holds the j-th chosen expert.
constexpr int32_t kMoeRouterMaxExperts = 4096;
constexpr int32_t kMoeRouterMaxTopK = 32;

// Every array is dense and row-major, on the device.
struct MoeRouterParams {
  int32_t* expert_ids;           // [tokens, top_k] out: chosen experts, best first
  float* weights;                // [tokens, top_k] out: their weights
  const float* logits;           // [tokens, num_experts] the gate's fp32 logits; finite
  const float* correction_bias;  // [num_experts] added for choosing only; null: none
  int64_t tokens;                // 0 launches nothing
  int32_t num_experts;           // in [1, kMoeRouterMaxExperts]
  int32_t top_k;                 // in [1, min(num_experts, kMoeRouterMaxTopK)]
  int32_t n_group;               // divides num_experts; 1: plain top-k
  int32_t topk_group;            // in [1, n_group]; topk_group * num_experts / n_group >= top_k
  bool sigmoid;                  // false: softmax
  bool norm_topk_prob;           // renormalise the chosen weights to sum to 1
  float routed_scaling_factor;   // > 0, finite
};

// Validates `params` (r1::InternalError on a bad one), then launches on `stream`, asynchronously.
// A launch failure is reported here; a fault while running surfaces at the next synchronization.
void moe_router_forward(const MoeRouterParams& params, cudaStream_t stream);

}  // namespace r1::rollout::kernels
