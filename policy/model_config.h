// The shape of a decoder-only policy model (dense or MoE; GQA or multi-head latent attention), as
// read from YAML (the built-in r1_moe) or a checkpoint's config.json (any registered family, see
// policy/models/). Knows nothing of training.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1::policy {

// RoPE frequency scaling (config.json's rope_parameters, or rope_scaling in older checkpoints).
struct RopeScaling {
  std::string type = "default";        // "default", "linear" or "yarn"
  double factor = 1.0;                 // linear, yarn: context extension factor
  int64_t original_max_position = 0;   // yarn: the pre-training context (0: max_position)
  double beta_fast = 32.0, beta_slow = 1.0;  // yarn: the ramp between extrapolated and interpolated dims
  double mscale = 0.0, mscale_all_dim = 0.0;  // yarn (DeepSeek): 0 = not set
  double attention_factor = 0.0;       // yarn: cos/sin scale; 0 = derived from factor and mscale
  bool truncate = true;                // yarn: round the ramp bounds to whole dims
};

struct ModelConfig {
  std::string preset = "tiny";  // a built-in shape the fields below start from ("tiny", "tiny-student")
  int64_t vocab_size = 0;       // 0: taken from the tokenizer
  int64_t hidden_size = 128;
  int64_t num_layers = 4;
  int64_t num_heads = 4;
  int64_t num_kv_heads = 2;        // grouped-query attention: heads share K/V in groups
  int64_t head_dim = 32;
  int64_t max_position = 512;      // longest sequence (prompt + completion)
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  // Feed-forward: dense SwiGLU when num_experts == 0, else DeepSeekMoE: shared experts + top-k routed.
  int64_t intermediate_size = 256;      // dense FFN width
  int64_t num_experts = 8;              // routed experts (fine-grained, DeepSeekMoE-style)
  int64_t num_experts_per_token = 2;    // top-k
  int64_t num_shared_experts = 1;
  int64_t expert_intermediate_size = 64;
  bool norm_topk_prob = false;          // renormalise the top-k router weights to sum to 1
  double router_aux_loss_coef = 0.01;   // weight of the load-balancing loss in training
  bool tie_word_embeddings = false;
  double init_std = 0.02;

  // ---- Architecture variants. Not YAML keys: a family's config.json reader (policy/models/) sets
  // them; the defaults are the built-in r1_moe model.
  std::string model_type = "r1_moe";
  std::string torch_dtype = "float32";  // the checkpoint's dtype; weights are saved back in it
  RopeScaling rope;
  // Follow transformers' order of float operations (HF families: RoPE angles in float32, scores
  // times the softmax scale, routed experts summed before shared ones), so parity holds to ~1e-6.
  // r1_moe keeps its own (float64 angles, scores divided by sqrt(head_dim), shared experts first),
  // bit-identical to earlier r1 builds.
  bool hf_float_order = false;
  bool rope_interleave = false;  // rotate (even, odd) pairs, not halves (DeepSeek's MLA rope dims)
  double attention_scale = 0.0;  // softmax scale; 0: 1/sqrt(query-key head dim)
  bool qkv_bias = false;         // q/k/v projections have biases (Qwen2)
  bool o_bias = false;           // o_proj has a bias (Qwen3's attention_bias)
  bool qk_norm = false;          // per-head RMSNorm of q and k before RoPE (Qwen3)
  // Multi-head latent attention (DeepSeek-V2/V3) when kv_lora_rank > 0.
  int64_t kv_lora_rank = 0;
  int64_t q_lora_rank = 0;       // 0: a full q_proj; else q_a_proj -> q_a_layernorm -> q_b_proj
  int64_t qk_nope_head_dim = 0, qk_rope_head_dim = 0, v_head_dim = 0;
  bool mla_bias = false;         // attention_bias: q_a_proj, kv_a_proj_with_mqa and o_proj biases
  // Router variants.
  std::string router_score = "softmax";    // "softmax" or "sigmoid" (DeepSeek-V3)
  std::string topk_method = "greedy";      // "greedy", or "group_limited": top groups first
  int64_t n_group = 1, topk_group = 1;     // group-limited routing: groups, and how many to keep
  double routed_scaling_factor = 1.0;      // multiplies the routed weights (DeepSeek)
  bool router_correction_bias = false;     // e_score_correction_bias: added for choosing only (V3)
  bool router_fp32_linear = false;         // router logits from fp32 inputs and weights (DeepSeek)
  // Shared experts: num_shared_experts * expert_intermediate_size wide (DeepSeek, r1_moe), or one
  // expert this wide behind a sigmoid gate (Qwen2-MoE) when > 0.
  int64_t shared_expert_intermediate_size = 0;
  // Which layers are MoE: i >= first_k_dense_replace, i % moe_layer_freq == 0,
  // (i + 1) % decoder_sparse_step == 0 and i not in mlp_only_layers; the rest are dense.
  int64_t first_k_dense_replace = 0, moe_layer_freq = 1, decoder_sparse_step = 1;
  std::vector<int64_t> mlp_only_layers;
  int64_t num_nextn_predict_layers = 0;  // DeepSeek-V3's multi-token-prediction layers: not loaded
  // Checkpoint names that differ between families.
  std::string moe_module = "mlp";                   // Mixtral: "block_sparse_moe"
  std::string shared_expert_module = "shared_experts";  // Qwen2-MoE: "shared_expert"
  std::array<std::string, 3> expert_proj = {"gate_proj", "up_proj", "down_proj"};  // Mixtral: w1, w3, w2
  // The checkpoint's config.json as read: written back with r1's values over it, so keys r1 does
  // not model (token ids, generation settings) survive a load and save.
  nlohmann::json source_config;

  bool is_mla() const { return kv_lora_rank > 0; }
  bool is_moe_layer(int64_t layer) const;
  int64_t num_moe_layers() const;
  int64_t shared_intermediate() const {
    return shared_expert_intermediate_size > 0 ? shared_expert_intermediate_size
                                               : num_shared_experts * expert_intermediate_size;
  }
  // Per layer and token, what the KV cache holds: heads, key width, value width.
  int64_t cache_heads() const { return is_mla() ? num_heads : num_kv_heads; }
  int64_t key_dim() const { return is_mla() ? qk_nope_head_dim + qk_rope_head_dim : head_dim; }
  int64_t value_dim() const { return is_mla() ? v_head_dim : head_dim; }
  int64_t rope_dim() const { return is_mla() ? qk_rope_head_dim : head_dim; }

  template <class V>
  void visit(V& v) {
    v("preset", preset);
    v("vocab_size", vocab_size);
    v("hidden_size", hidden_size);
    v("num_layers", num_layers);
    v("num_heads", num_heads);
    v("num_kv_heads", num_kv_heads);
    v("head_dim", head_dim);
    v("max_position", max_position);
    v("rope_theta", rope_theta);
    v("rms_norm_eps", rms_norm_eps);
    v("intermediate_size", intermediate_size);
    v("num_experts", num_experts);
    v("num_experts_per_token", num_experts_per_token);
    v("num_shared_experts", num_shared_experts);
    v("expert_intermediate_size", expert_intermediate_size);
    v("norm_topk_prob", norm_topk_prob);
    v("router_aux_loss_coef", router_aux_loss_coef);
    v("router_correction_bias", router_correction_bias);
    v("tie_word_embeddings", tie_word_embeddings);
    v("init_std", init_std);
    v.check(hidden_size > 0 && num_layers > 0 && head_dim > 0, "hidden_size", "sizes must be positive");
    v.check(num_heads > 0 && num_kv_heads > 0 && num_heads % num_kv_heads == 0, "num_kv_heads",
            "must be positive and divide num_heads");
    v.check(head_dim % 2 == 0, "head_dim", "must be even (RoPE rotates pairs)");
    v.check(num_experts >= 0 && (num_experts == 0 || (num_experts_per_token >= 1 &&
                                                      num_experts_per_token <= num_experts)),
            "num_experts_per_token", "must be in [1, num_experts]");
    v.check(max_position >= 8, "max_position", "must be at least 8");
  }

  bool is_moe() const { return num_experts > 0; }
};

// The preset's defaults with nothing overridden. UserError listing presets for an unknown name.
ModelConfig preset_config(const std::string& name);

// config.json of a checkpoint <-> ModelConfig, by model_type through the family registry
// (policy/models/family.h): "r1_moe" and the Hugging Face families. UserError naming `origin` and
// the key for an unknown model_type, a missing or mistyped key, or an unsupported setting.
nlohmann::json to_config_json(const ModelConfig& config);
ModelConfig from_config_json(const nlohmann::json& json, const std::string& origin);

// Parameters without building the model (a checkpoint may be far larger than memory): all, and
// those one token passes through (shared parts plus top-k of the routed experts).
struct ParameterCounts {
  int64_t total = 0;
  int64_t active_per_token = 0;
};
ParameterCounts count_parameters(const ModelConfig& config);

}  // namespace r1::policy
