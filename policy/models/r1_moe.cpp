// The built-in model's config.json (model_type "r1_moe"): HF-style key names for the fields of
// ModelConfig that YAML sets; every architecture variant stays at its r1_moe default.
#include "common/error.h"
#include "policy/models/family.h"

namespace r1::policy {

namespace {

nlohmann::json write_r1_moe(const ModelConfig& c) {
  nlohmann::json j = {
      {"model_type", "r1_moe"},
      {"architectures", {"R1ForCausalLM"}},
      {"r1_preset", c.preset},
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"num_hidden_layers", c.num_layers},
      {"num_attention_heads", c.num_heads},
      {"num_key_value_heads", c.num_kv_heads},
      {"head_dim", c.head_dim},
      {"max_position_embeddings", c.max_position},
      {"rope_theta", c.rope_theta},
      {"rms_norm_eps", c.rms_norm_eps},
      {"intermediate_size", c.intermediate_size},
      {"n_routed_experts", c.num_experts},
      {"num_experts_per_tok", c.num_experts_per_token},
      {"n_shared_experts", c.num_shared_experts},
      {"moe_intermediate_size", c.expert_intermediate_size},
      {"norm_topk_prob", c.norm_topk_prob},
      {"aux_loss_alpha", c.router_aux_loss_coef},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"initializer_range", c.init_std},
      {"torch_dtype", "float32"},
  };
  // Only when set, so the config.json of a model without it stays as it was.
  if (c.router_correction_bias) j["router_correction_bias"] = true;
  return j;
}

ModelConfig read_r1_moe(const nlohmann::json& j, const std::string& origin) {
  R1_CHECK(j.is_object(), origin, ": expected a JSON object");
  ModelConfig c;
  auto get = [&](const char* key, auto& field) {
    if (!j.contains(key)) return;
    try {
      j.at(key).get_to(field);
    } catch (const nlohmann::json::exception& e) {
      R1_FAIL(origin, ": key '", key, "': ", e.what());
    }
  };
  get("r1_preset", c.preset);
  get("vocab_size", c.vocab_size);
  get("hidden_size", c.hidden_size);
  get("num_hidden_layers", c.num_layers);
  get("num_attention_heads", c.num_heads);
  get("num_key_value_heads", c.num_kv_heads);
  get("head_dim", c.head_dim);
  get("max_position_embeddings", c.max_position);
  get("rope_theta", c.rope_theta);
  get("rms_norm_eps", c.rms_norm_eps);
  get("intermediate_size", c.intermediate_size);
  get("n_routed_experts", c.num_experts);
  get("num_experts_per_tok", c.num_experts_per_token);
  get("n_shared_experts", c.num_shared_experts);
  get("moe_intermediate_size", c.expert_intermediate_size);
  get("norm_topk_prob", c.norm_topk_prob);
  get("aux_loss_alpha", c.router_aux_loss_coef);
  get("tie_word_embeddings", c.tie_word_embeddings);
  get("initializer_range", c.init_std);
  get("router_correction_bias", c.router_correction_bias);
  R1_CHECK(c.vocab_size > 0 && c.hidden_size > 0 && c.num_layers > 0 && c.num_heads > 0 && c.num_kv_heads > 0 &&
               c.num_heads % c.num_kv_heads == 0 && c.head_dim > 0 && c.head_dim % 2 == 0,
           origin, ": inconsistent model shape");
  return c;
}

}  // namespace

ModelFamily r1_moe_family() { return {"r1_moe", read_r1_moe, write_r1_moe}; }

}  // namespace r1::policy
