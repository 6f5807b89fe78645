// The policy model: a decoder-only transformer in LibTorch — RMSNorm, RoPE (linear/YaRN scaling),
// grouped-query attention (optional biases, q/k norm) or multi-head latent attention, with a KV
// cache, and a dense SwiGLU or MoE feed-forward (routed experts with softmax or sigmoid,
// group-limited routers; shared experts; load-balancing loss). One implementation for every family
// (policy/models/ only translates configs and names); parameters are registered under Hugging Face
// checkpoint names ("model.layers.0.self_attn.q_proj.weight"). Knows nothing of RL.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "policy/kv_cache.h"
#include "policy/model_config.h"

namespace r1::policy {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// Rotary position embedding, rotate-half convention (as HF Llama/Qwen/DeepSeek), with linear or
// YaRN frequency scaling. Angles are computed per forward from the positions (no table), in
// float64 for r1_moe and in float32 for HF families, as transformers does (hf_float_order).
class RotaryEmbedding {
 public:
  explicit RotaryEmbedding(const ModelConfig& config);
  struct Angles {
    torch::Tensor cos, sin;  // [batch, 1, seq, rope_dim], already scaled by the attention factor
  };
  // positions: [batch, seq] int64.
  Angles angles(const torch::Tensor& positions, torch::ScalarType dtype) const;
  // x: [batch, heads, seq, rope_dim].
  static torch::Tensor apply(const torch::Tensor& x, const Angles& angles);

 private:
  torch::Tensor inv_freq_;  // [rope_dim / 2]
  double attention_factor_ = 1.0;
  int64_t max_position_;
};

// softmax(q k^T * scale) v with a causal mask, over the cache's filled slots plus the new tokens
// (whose k/v it appends at cache->length). q: [batch, heads, seq, dk]; k: [batch, kv_heads, seq, dk];
// v: [batch, kv_heads, seq, dv]. Returns [batch, seq, heads * dv]. Scores are multiplied by
// `scale`, or (r1_moe's float order, `divide`) divided by it.
torch::Tensor causal_attention(const torch::Tensor& q, torch::Tensor k, torch::Tensor v, KVCache* cache,
                               int64_t layer_index, double scale, bool divide = false);
// causal_attention's arithmetic for a given mask (true: may attend), broadcastable to
// [batch, heads, seq, keys]; k, v: [batch, kv_heads, keys, d]. Engines with their own KV store
// (rollout/torch_runner.h) call it so their numerics are the policy's.
torch::Tensor masked_attention(const torch::Tensor& q, torch::Tensor k, torch::Tensor v, const torch::Tensor& mask,
                               double scale, bool divide = false);

// Grouped-query attention (q/k/v/o projections, optional q/k/v and o biases, optional per-head
// q/k RMSNorm before RoPE).
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& config, int64_t layer_index);
  // x: [batch, seq, hidden]. Without a cache: causal attention over x (right padding is harmless).
  // With a cache: attends to the cached slots plus x, and appends x's keys/values at cache->length.
  torch::Tensor forward(const torch::Tensor& x, const RotaryEmbedding::Angles& angles, KVCache* cache);
  // The attention inputs forward() computes, for an engine with its own KV store: q
  // [batch, heads, seq, head_dim] and k, v [batch, kv_heads, seq, head_dim], after the q/k norms and RoPE.
  struct Projected {
    torch::Tensor q, k, v;
  };
  Projected project(const torch::Tensor& x, const RotaryEmbedding::Angles& angles);
  double scale() const { return scale_; }
  bool divides() const { return divide_; }  // scores / scale() rather than * scale()
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};

 private:
  int64_t num_heads_, num_kv_heads_, head_dim_, layer_index_;
  double scale_;
  bool divide_;  // r1_moe: scores / sqrt(head_dim)
};
TORCH_MODULE(Attention);

// Multi-head latent attention (DeepSeek-V2/V3): q from q_proj, or low-rank q_a_proj ->
// q_a_layernorm -> q_b_proj; k/v from a compressed kv_a_proj_with_mqa -> kv_a_layernorm ->
// kv_b_proj, plus one RoPE'd key part shared by all heads. The cache holds the per-head k and v
// after kv_b_proj (simple and exact; not the compressed form).
class MlaAttentionImpl : public torch::nn::Module {
 public:
  MlaAttentionImpl(const ModelConfig& config, int64_t layer_index);
  torch::Tensor forward(const torch::Tensor& x, const RotaryEmbedding::Angles& angles, KVCache* cache);
  // What forward() computes before kv_b_proj, for an engine that caches the compressed form (the
  // absorbed MLA of DeepSeek-V2): q_nope [batch, heads, seq, nope], q_pe [batch, heads, seq, rope]
  // (rotated), latent [batch, seq, kv_lora_rank] (after kv_a_layernorm) and k_pe [batch, seq, rope]
  // (rotated; one key part shared by all heads). RoPE dims are in rotate-half order.
  struct Projected {
    torch::Tensor q_nope, q_pe, latent, k_pe;
  };
  Projected project(const torch::Tensor& x, const RotaryEmbedding::Angles& angles);
  double scale() const { return scale_; }
  torch::nn::Linear q_proj{nullptr}, q_a_proj{nullptr}, q_b_proj{nullptr};
  torch::nn::Linear kv_a_proj_with_mqa{nullptr}, kv_b_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_a_layernorm{nullptr}, kv_a_layernorm{nullptr};

 private:
  int64_t num_heads_, nope_dim_, rope_dim_, v_dim_, kv_lora_rank_, layer_index_;
  bool interleave_;
  double scale_;
};
TORCH_MODULE(MlaAttention);

// SwiGLU feed-forward: down(silu(gate(x)) * up(x)). Used as the dense FFN and as each expert;
// `names` are the checkpoint's names of gate, up and down (Mixtral: w1, w3, w2).
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t hidden, int64_t intermediate,
          const std::array<std::string, 3>& names = {"gate_proj", "up_proj", "down_proj"});
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

// The MoE router ("gate"): a [num_experts, hidden] weight and, for DeepSeek-V3, the
// e_score_correction_bias buffer (saved in checkpoints; moved by load balancing, not by gradients).
class RouterImpl : public torch::nn::Module {
 public:
  RouterImpl(const ModelConfig& config);
  torch::Tensor weight;
  torch::Tensor e_score_correction_bias;  // undefined unless config.router_correction_bias
};
TORCH_MODULE(Router);

// What the MoE layers report from a forward: the load-balancing loss, summed over layers, and per
// MoE layer in order how many routed slots each expert received (int64 [num_experts]), which
// DeepSeek-V3's auxiliary-loss-free balancing moves the correction bias by (rl/load_balance.h).
// With record_experts set, each MoE layer also appends the experts it chose ([tokens, top_k] int64),
// which the rollout engine returns so the learner can replay them.
struct RoutingStats {
  torch::Tensor aux_loss;
  std::vector<torch::Tensor> expert_counts;
  bool record_experts = false;
  std::vector<torch::Tensor> chosen_experts;
};

// Mixture-of-experts feed-forward. Router (see ModelConfig): softmax or sigmoid scores in fp32,
// optional group-limited choice and correction bias, top-k, optional renormalisation, scaling.
// Shared experts (DeepSeek, r1_moe) or one sigmoid-gated shared expert (Qwen2-MoE) are added.
class MoeImpl : public torch::nn::Module {
 public:
  explicit MoeImpl(const ModelConfig& config);
  // x: [tokens, hidden]. Returns the output and, if `stats` is given, adds the load-balancing loss
  // E * sum_e f_e * P_e (f_e: share of routed slots, P_e: mean router probability) to its aux_loss
  // and appends this layer's expert counts.
  torch::Tensor forward(const torch::Tensor& x, RoutingStats* stats);
  // The chosen experts and their weights: [tokens, top_k] each (weights in fp32).
  std::pair<torch::Tensor, torch::Tensor> route(const torch::Tensor& x, torch::Tensor* router_probs = nullptr);
  Router gate{nullptr};
  torch::nn::ModuleList experts;
  Mlp shared_experts{nullptr};           // registered under config.shared_expert_module
  torch::nn::Linear shared_expert_gate{nullptr};

 private:
  ModelConfig config_;
};
TORCH_MODULE(Moe);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, int64_t layer_index);
  torch::Tensor forward(const torch::Tensor& x, const RotaryEmbedding::Angles& angles, KVCache* cache,
                        RoutingStats* stats);
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};      // one of these two, registered as "self_attn"
  MlaAttention mla_attn{nullptr};
  Mlp dense_mlp{nullptr};
  Moe moe{nullptr};
};
TORCH_MODULE(DecoderLayer);

// The trunk: embeddings, layers, final norm ("model." in checkpoint names).
class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& positions, KVCache* cache,
                        RoutingStats* stats);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers;
  RMSNorm norm{nullptr};
  // Recompute each layer in the backward instead of keeping its activations
  // (policy/activation_checkpoint.h); applies to forwards with grad and without a KV cache.
  bool activation_checkpointing = false;
  const RotaryEmbedding& rope() const { return rope_; }

 private:
  RotaryEmbedding rope_;
};
TORCH_MODULE(Decoder);

struct ForwardOutput {
  torch::Tensor hidden;    // [batch, seq, hidden] after the final norm
  torch::Tensor aux_loss;  // scalar load-balancing loss (0 for a dense model)
  std::vector<torch::Tensor> expert_counts;  // per MoE layer: routed slots per expert (RoutingStats)
};

class CausalLMImpl : public torch::nn::Module {
 public:
  explicit CausalLMImpl(const ModelConfig& config);
  // positions: [batch, seq]; default 0..seq-1 (continuing from cache->length when cached).
  ForwardOutput forward(const torch::Tensor& input_ids, std::optional<torch::Tensor> positions = std::nullopt,
                        KVCache* cache = nullptr);
  // Logits of hidden states; callers that need log-probs of long sequences apply it in chunks.
  torch::Tensor logits(const torch::Tensor& hidden);
  // The [vocab, hidden] matrix logits() multiplies by: lm_head's, or the embeddings when tied.
  torch::Tensor output_weight() const;
  // An empty cache for `batch` rows of up to `capacity` tokens.
  KVCache make_cache(int64_t batch, int64_t capacity) const;
  const ModelConfig& config() const { return config_; }
  int64_t num_parameters() const;

  Decoder model{nullptr};
  torch::nn::Linear lm_head{nullptr};

 private:
  ModelConfig config_;
};
TORCH_MODULE(CausalLM);

// Copies every parameter and buffer of `src` into `dst` (same architecture), without autograd.
void copy_weights(CausalLM& dst, const CausalLM& src);

}  // namespace r1::policy
