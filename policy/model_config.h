// The shape of a decoder-only policy model (dense or DeepSeek-style MoE), as read from YAML or a
// checkpoint's config.json. Knows nothing of training.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace r1::policy {

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

// config.json of a checkpoint <-> ModelConfig (model_type "r1_moe"; HF-style key names).
nlohmann::json to_config_json(const ModelConfig& config);
ModelConfig from_config_json(const nlohmann::json& json, const std::string& origin);

}  // namespace r1::policy
