// Built-in model presets, the config.json mapping through the family registry, and parameter
// counts from the shape alone.
#include "policy/model_config.h"

#include <algorithm>

#include "common/error.h"
#include "policy/models/family.h"

namespace r1::policy {

ModelConfig preset_config(const std::string& name) {
  ModelConfig config;  // the member defaults are the "tiny" preset: ~1.6M parameters
  config.preset = name;
  if (name == "tiny") return config;
  if (name == "tiny-dense") {  // the same trunk with a dense SwiGLU feed-forward
    config.num_experts = 0;
    return config;
  }
  if (name == "tiny-student") {  // a smaller model for distillation
    config.hidden_size = 96;
    config.num_layers = 3;
    config.num_heads = 3;
    config.num_kv_heads = 1;
    config.num_experts = 4;
    config.expert_intermediate_size = 96;
    return config;
  }
  R1_FAIL("unknown model preset '", name, "'; known: tiny, tiny-dense, tiny-student");
}

bool ModelConfig::is_moe_layer(int64_t layer) const {
  if (num_experts <= 0 || layer < first_k_dense_replace) return false;
  if (moe_layer_freq > 1 && layer % moe_layer_freq != 0) return false;
  if (decoder_sparse_step > 1 && (layer + 1) % decoder_sparse_step != 0) return false;
  return std::find(mlp_only_layers.begin(), mlp_only_layers.end(), layer) == mlp_only_layers.end();
}

int64_t ModelConfig::num_moe_layers() const {
  int64_t n = 0;
  for (int64_t i = 0; i < num_layers; ++i) n += is_moe_layer(i) ? 1 : 0;
  return n;
}

nlohmann::json to_config_json(const ModelConfig& c) {
  return find_model_family(c.model_type, "model config")
      .write_config(c);
}

ModelConfig from_config_json(const nlohmann::json& j, const std::string& origin) {
  R1_CHECK(j.is_object(), origin, ": expected a JSON object");
  R1_CHECK(j.contains("model_type") && j["model_type"].is_string(), origin, ": missing key 'model_type' (a string)");
  return find_model_family(j["model_type"].get<std::string>(), origin).read_config(j, origin);
}

ParameterCounts count_parameters(const ModelConfig& c) {
  const int64_t h = c.hidden_size;
  auto mlp = [&](int64_t width) { return 3 * h * width; };
  int64_t attention = 0;
  if (c.is_mla()) {
    const int64_t qk = c.qk_nope_head_dim + c.qk_rope_head_dim;
    const int64_t bias = c.mla_bias ? 1 : 0;
    attention += c.q_lora_rank > 0 ? h * c.q_lora_rank + bias * c.q_lora_rank + c.q_lora_rank +
                                         c.q_lora_rank * c.num_heads * qk
                                   : h * c.num_heads * qk;
    attention += (h + bias) * (c.kv_lora_rank + c.qk_rope_head_dim) + c.kv_lora_rank;
    attention += c.kv_lora_rank * c.num_heads * (c.qk_nope_head_dim + c.v_head_dim);
    attention += c.num_heads * c.v_head_dim * h + bias * h;
  } else {
    const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
    attention += (h + (c.qkv_bias ? 1 : 0)) * (q + 2 * kv);
    attention += q * h + (c.o_bias ? h : 0);
    attention += c.qk_norm ? 2 * c.head_dim : 0;
  }
  ParameterCounts counts;
  for (int64_t layer = 0; layer < c.num_layers; ++layer) {
    int64_t shared = 2 * h + attention, routed_all = 0, routed_active = 0;
    if (c.is_moe_layer(layer)) {
      shared += c.num_experts * h;  // router
      if (c.shared_intermediate() > 0) shared += mlp(c.shared_intermediate());
      if (c.shared_expert_intermediate_size > 0) shared += h;  // the shared expert's gate
      routed_all = c.num_experts * mlp(c.expert_intermediate_size);
      routed_active = c.num_experts_per_token * mlp(c.expert_intermediate_size);
    } else {
      shared += mlp(c.intermediate_size);
    }
    counts.total += shared + routed_all;
    counts.active_per_token += shared + routed_active;
  }
  const int64_t outer = c.vocab_size * h * (c.tie_word_embeddings ? 1 : 2) + h;
  counts.total += outer;
  counts.active_per_token += outer;
  return counts;
}

}  // namespace r1::policy
