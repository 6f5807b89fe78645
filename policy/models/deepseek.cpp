// config.json keys of DeepSeek-V2/V3: MLA sizes, DeepSeekMoE layout, softmax scale with YaRN mscale.
#include "policy/models/deepseek.h"

#include <cmath>

namespace r1::policy::deepseek {

namespace {
// YaRN's attention-temperature correction, as DeepSeek's reference code computes it.
double yarn_mscale(double scale, double mscale) { return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

// null in config.json means "off" for these keys; r1 spells off as `off_value`.
void put_nullable(nlohmann::json& j, const nlohmann::json& source, const char* key, int64_t value, int64_t off_value) {
  const bool source_null = source.is_object() && source.contains(key) && source[key].is_null();
  const bool source_absent = !source.is_object() || !source.contains(key);
  if (value == off_value && source_null) j[key] = nullptr;
  else if (value == off_value && source_absent) return;
  else j[key] = value;
}
}  // namespace

void read(const hf::ConfigReader& r, ModelConfig& c, const Defaults& d) {
  const auto& origin = r.origin();
  hf::read_common(r, c, /*default_rope_theta=*/10000.0);
  r.require("kv_lora_rank", c.kv_lora_rank);
  R1_CHECK(r.json().contains("q_lora_rank"), origin, ": missing key 'q_lora_rank' (null for a full q_proj)");
  r.get("q_lora_rank", c.q_lora_rank);
  r.require("qk_nope_head_dim", c.qk_nope_head_dim);
  r.require("qk_rope_head_dim", c.qk_rope_head_dim);
  r.require("v_head_dim", c.v_head_dim);
  R1_CHECK(c.kv_lora_rank > 0 && c.q_lora_rank >= 0 && c.qk_nope_head_dim >= 0 && c.qk_rope_head_dim > 0 &&
               c.v_head_dim > 0,
           origin, ": kv_lora_rank, qk_rope_head_dim and v_head_dim must be positive");
  r.get("attention_bias", c.mla_bias);
  bool mlp_bias = false;
  r.get("mlp_bias", mlp_bias);
  R1_CHECK(!mlp_bias, origin, ": mlp_bias: biases in the feed-forward are not supported");
  c.rope_interleave = d.rope_interleave;
  if (c.model_type == "deepseek_v3") r.get("rope_interleave", c.rope_interleave);

  // Softmax scale: 1/sqrt(qk head dim), times mscale^2 under YaRN with mscale_all_dim (the rope
  // tables carry mscale/mscale_all_dim, so attention sees the reference's temperature).
  const int64_t qk_head_dim = c.qk_nope_head_dim + c.qk_rope_head_dim;
  c.attention_scale = 1.0 / std::sqrt(double(qk_head_dim));
  if (c.rope.type == "yarn" && c.rope.mscale_all_dim != 0.0) {
    const double m = yarn_mscale(c.rope.factor, c.rope.mscale_all_dim);
    c.attention_scale *= m * m;
  }

  // DeepSeekMoE: n_routed_experts null means a dense model.
  r.get("n_routed_experts", c.num_experts);
  r.get("n_shared_experts", c.num_shared_experts);
  if (c.num_experts > 0) {
    r.require("num_experts_per_tok", c.num_experts_per_token);
    r.require("moe_intermediate_size", c.expert_intermediate_size);
  }
  c.routed_scaling_factor = d.routed_scaling_factor;
  r.get("routed_scaling_factor", c.routed_scaling_factor);
  c.norm_topk_prob = d.norm_topk_prob;
  r.get("norm_topk_prob", c.norm_topk_prob);
  c.n_group = d.n_group;
  c.topk_group = d.topk_group;
  r.get("n_group", c.n_group);
  r.get("topk_group", c.topk_group);
  r.get("first_k_dense_replace", c.first_k_dense_replace);
  r.get("moe_layer_freq", c.moe_layer_freq);
  r.get("num_nextn_predict_layers", c.num_nextn_predict_layers);
  R1_CHECK(c.moe_layer_freq >= 1 && c.first_k_dense_replace >= 0, origin,
           ": moe_layer_freq must be >= 1 and first_k_dense_replace >= 0");
  R1_CHECK(c.n_group >= 1 && c.topk_group >= 1 && c.topk_group <= c.n_group &&
               (c.num_experts == 0 || c.num_experts % c.n_group == 0),
           origin, ": n_group ", c.n_group, " must divide n_routed_experts and topk_group ", c.topk_group,
           " be in [1, n_group]");
  c.router_fp32_linear = true;
  hf::check_shape(r, c);
}

nlohmann::json write(const ModelConfig& c, const std::string& architecture) {
  auto j = hf::write_common(c, architecture);
  const auto& src = c.source_config;
  j["kv_lora_rank"] = c.kv_lora_rank;
  put_nullable(j, src, "q_lora_rank", c.q_lora_rank, 0);
  j["qk_nope_head_dim"] = c.qk_nope_head_dim;
  j["qk_rope_head_dim"] = c.qk_rope_head_dim;
  j["v_head_dim"] = c.v_head_dim;
  if (j.contains("qk_head_dim")) j["qk_head_dim"] = c.qk_nope_head_dim + c.qk_rope_head_dim;
  j["attention_bias"] = c.mla_bias;
  put_nullable(j, src, "n_routed_experts", c.num_experts, 0);
  put_nullable(j, src, "n_shared_experts", c.num_shared_experts, 0);
  if (c.num_experts > 0) {
    j["num_experts_per_tok"] = c.num_experts_per_token;
    j["moe_intermediate_size"] = c.expert_intermediate_size;
  }
  j["routed_scaling_factor"] = c.routed_scaling_factor;
  put_nullable(j, src, "n_group", c.n_group, 1);
  put_nullable(j, src, "topk_group", c.topk_group, 1);
  j["first_k_dense_replace"] = c.first_k_dense_replace;
  if (j.contains("moe_layer_freq") || c.moe_layer_freq != 1) j["moe_layer_freq"] = c.moe_layer_freq;
  return j;
}

}  // namespace r1::policy::deepseek
