// Qwen2-MoE / Qwen1.5-MoE (model_type "qwen2_moe"): Qwen2 attention (q/k/v biases, "qkv_bias"),
// routed experts plus one shared expert (mlp.shared_expert.*) scaled by a sigmoid gate
// (mlp.shared_expert_gate). Router: softmax in fp32, top-k, renormalised only when norm_topk_prob,
// whose default is false for this family.
#include "policy/models/family.h"
#include "policy/models/hf_config.h"

namespace r1::policy {

namespace {

ModelConfig read_qwen2_moe(const nlohmann::json& j, const std::string& origin) {
  hf::ConfigReader r(j, origin);
  ModelConfig c;
  hf::read_common(r, c, /*default_rope_theta=*/10000.0);
  r.get("intermediate_size", c.intermediate_size);
  hf::check_no_sliding_window(r);
  c.qkv_bias = true;
  r.get("qkv_bias", c.qkv_bias);
  r.require("num_experts", c.num_experts);
  r.require("shared_expert_intermediate_size", c.shared_expert_intermediate_size);
  hf::read_qwen_moe_routing(r, c);  // norm_topk_prob stays false unless set, as read_common left it
  R1_CHECK(c.shared_expert_intermediate_size > 0, origin, ": shared_expert_intermediate_size must be positive");
  c.shared_expert_module = "shared_expert";
  hf::check_shape(r, c);
  return c;
}

nlohmann::json write_qwen2_moe(const ModelConfig& c) {
  auto j = hf::write_common(c, "Qwen2MoeForCausalLM");
  if (j.contains("qkv_bias") || !c.qkv_bias) j["qkv_bias"] = c.qkv_bias;
  j["num_experts"] = c.num_experts;
  j["shared_expert_intermediate_size"] = c.shared_expert_intermediate_size;
  hf::write_qwen_moe_routing(j, c);
  return j;
}

}  // namespace

ModelFamily qwen2_moe_family() { return {"qwen2_moe", read_qwen2_moe, write_qwen2_moe}; }

}  // namespace r1::policy
