// The policy model: a decoder-only transformer in LibTorch — RMSNorm, RoPE, grouped-query
// attention with a KV cache, and a dense SwiGLU or DeepSeek-style MoE feed-forward (shared experts
// plus top-k routed experts, softmax router, load-balancing loss). Parameters are registered under
// Hugging Face checkpoint names ("model.layers.0.self_attn.q_proj.weight"). Knows nothing of RL.
#pragma once

#include <optional>

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

// Rotary position embedding, rotate-half convention (as HF Llama/Qwen/DeepSeek).
class RotaryEmbedding {
 public:
  RotaryEmbedding(int64_t head_dim, int64_t max_position, double theta);
  // x: [batch, heads, seq, head_dim]; positions: [batch, seq] int64.
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& positions) const;

 private:
  torch::Tensor cos_, sin_;  // [max_position, head_dim]
};

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& config, int64_t layer_index);
  // x: [batch, seq, hidden]. Without a cache: causal attention over x (right padding is harmless).
  // With a cache: attends to the cached slots plus x, and appends x's keys/values at cache->length.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& positions, const RotaryEmbedding& rope,
                        KVCache* cache);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  int64_t num_heads_, num_kv_heads_, head_dim_, layer_index_;
};
TORCH_MODULE(Attention);

// SwiGLU feed-forward: down(silu(gate(x)) * up(x)). Used as the dense FFN and as each expert.
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t hidden, int64_t intermediate);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

// DeepSeekMoE feed-forward. Router: softmax over experts in fp32, top-k, optional renormalisation.
class MoeImpl : public torch::nn::Module {
 public:
  explicit MoeImpl(const ModelConfig& config);
  // x: [tokens, hidden]. Returns the output and, if `aux_loss` is given, adds the load-balancing
  // loss E * sum_e f_e * P_e (f_e: share of routed slots, P_e: mean router probability).
  torch::Tensor forward(const torch::Tensor& x, torch::Tensor* aux_loss);
  torch::nn::Linear gate{nullptr};  // router, [num_experts, hidden]
  torch::nn::ModuleList experts;
  Mlp shared_experts{nullptr};

 private:
  int64_t num_experts_, top_k_;
  bool norm_topk_prob_;
};
TORCH_MODULE(Moe);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, int64_t layer_index);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& positions, const RotaryEmbedding& rope,
                        KVCache* cache, torch::Tensor* aux_loss);
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp dense_mlp{nullptr};
  Moe moe{nullptr};
};
TORCH_MODULE(DecoderLayer);

// The trunk: embeddings, layers, final norm ("model." in checkpoint names).
class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& positions, KVCache* cache,
                        torch::Tensor* aux_loss);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers;
  RMSNorm norm{nullptr};

 private:
  RotaryEmbedding rope_;
};
TORCH_MODULE(Decoder);

struct ForwardOutput {
  torch::Tensor hidden;    // [batch, seq, hidden] after the final norm
  torch::Tensor aux_loss;  // scalar load-balancing loss (0 for a dense model)
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
