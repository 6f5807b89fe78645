// Qwen3-MoE (model_type "qwen3_moe"): Qwen3 attention (q/k norm) and routed experts only, no
// shared expert. Router: softmax in fp32 over the gate's logits, top-k, renormalised when
// norm_topk_prob (default false, as transformers). Layers in mlp_only_layers, or off the
// decoder_sparse_step grid, are dense.
#include "policy/models/family.h"
#include "policy/models/hf_config.h"

namespace r1::policy {

namespace {

// transformers 5 writes num_local_experts (num_experts is its alias); older checkpoints num_experts.
const char* experts_key(const nlohmann::json& source) {
  return source.is_object() && source.contains("num_experts") && !source.contains("num_local_experts")
             ? "num_experts"
             : "num_local_experts";
}

ModelConfig read_qwen3_moe(const nlohmann::json& j, const std::string& origin) {
  hf::ConfigReader r(j, origin);
  ModelConfig c;
  hf::read_common(r, c, /*default_rope_theta=*/10000.0);
  r.get("intermediate_size", c.intermediate_size);
  hf::check_no_sliding_window(r);
  bool attention_bias = false;
  r.get("attention_bias", attention_bias);
  c.qkv_bias = c.o_bias = attention_bias;
  c.qk_norm = true;
  R1_CHECK(r.has("num_experts") || r.has("num_local_experts"), origin, ": missing key 'num_experts'");
  r.get("num_experts", c.num_experts);
  r.get("num_local_experts", c.num_experts);
  hf::read_qwen_moe_routing(r, c);
  hf::check_shape(r, c);
  return c;
}

nlohmann::json write_qwen3_moe(const ModelConfig& c) {
  auto j = hf::write_common(c, "Qwen3MoeForCausalLM");
  j["attention_bias"] = c.qkv_bias;
  j[experts_key(c.source_config)] = c.num_experts;
  hf::write_qwen_moe_routing(j, c);
  return j;
}

}  // namespace

ModelFamily qwen3_moe_family() { return {"qwen3_moe", read_qwen3_moe, write_qwen3_moe}; }

}  // namespace r1::policy
