// The policy's parameters as the engine's kernels take them: per layer the norms, the attention's
// projections (GQA, or MLA's low-rank ones), and the feed-forward (dense, or the router, the
// experts stacked [E][out][in] and the shared expert). One walk over the policy's modules that
// every runner built from the kernels (rollout/reference_runner.h on the host,
// rollout/cuda/cuda_runner.h on the device) copies from, so they cannot disagree on what a weight is.
//
// The tensors are the model's own (detached views, nothing copied), on the
// model's device, in its dtype; the experts' are listed one by one, for the runner to stack.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "policy/transformer.h"

namespace r1::rollout {

struct LinearTensors {
  torch::Tensor weight;  // [out][in]; undefined: the layer does not have this projection
  torch::Tensor bias;    // [out] or undefined
  bool present() const { return weight.defined(); }
};

struct MlpTensors {
  LinearTensors gate, up, down;
};

struct LayerTensors {
  torch::Tensor input_norm, post_norm;
  // Attention. GQA: q, k, v, o, and Qwen3's per-head q_norm / k_norm (or undefined).
  // MLA: q (q_proj) or q_a -> q_a_norm -> q_b; kv_a (kv_a_proj_with_mqa) -> kv_a_norm on the
  // latent part; kv_b (the per-head up-projections W_uk, W_uv), and o.
  LinearTensors q, k, v, o, q_a, q_b, kv_a, kv_b;
  torch::Tensor q_norm, k_norm, q_a_norm, kv_a_norm;
  // Feed-forward: dense `mlp`, or MoE.
  bool moe = false;
  MlpTensors mlp;
  torch::Tensor router;           // [E][hidden]
  torch::Tensor correction_bias;  // [E] or undefined
  // Per expert, in order (views, no copy): [expert_intermediate][hidden] gate and up, and
  // [hidden][expert_intermediate] down; a runner stacks them [E][out][in].
  std::vector<torch::Tensor> w_gate, w_up, w_down;
  bool has_shared = false;
  MlpTensors shared;
  LinearTensors shared_gate;      // Qwen2-MoE's [1][hidden] sigmoid gate, or absent
};

struct ModelTensors {
  torch::Tensor embed, final_norm;
  torch::Tensor lm_head;   // [vocab][hidden]: lm_head's weight, or the embeddings when tied
  std::vector<LayerTensors> layers;
  double attention_scale;  // what the scores are multiplied by (r1_moe's division inverted)
};

ModelTensors model_tensors(const policy::CausalLM& model);

// Every floating tensor's values as fp32 on the host, row-major (empty for an undefined tensor).
std::vector<float> host_floats(const torch::Tensor& t);

}  // namespace r1::rollout
