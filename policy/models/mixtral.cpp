// Mixtral (model_type "mixtral"): GQA without biases, every layer a sparse MoE named
// block_sparse_moe (gate; experts.N.w1 gate, w3 up, w2 down), no shared expert. Router: softmax in
// fp32 over all experts, top-k, always renormalised. intermediate_size is the experts' width.
#include "policy/models/family.h"
#include "policy/models/hf_config.h"

namespace r1::policy {

namespace {

ModelConfig read_mixtral(const nlohmann::json& j, const std::string& origin) {
  hf::ConfigReader r(j, origin);
  ModelConfig c;
  hf::read_common(r, c, /*default_rope_theta=*/1e6);
  hf::check_no_sliding_window(r);
  r.require("intermediate_size", c.intermediate_size);
  c.expert_intermediate_size = c.intermediate_size;
  r.require("num_local_experts", c.num_experts);
  r.require("num_experts_per_tok", c.num_experts_per_token);
  c.norm_topk_prob = true;
  c.moe_module = "block_sparse_moe";
  c.expert_proj = {"w1", "w3", "w2"};
  hf::check_shape(r, c);
  return c;
}

nlohmann::json write_mixtral(const ModelConfig& c) {
  auto j = hf::write_common(c, "MixtralForCausalLM");
  j["intermediate_size"] = c.expert_intermediate_size;
  j["num_local_experts"] = c.num_experts;
  j["num_experts_per_tok"] = c.num_experts_per_token;
  j["router_aux_loss_coef"] = c.router_aux_loss_coef;
  return j;
}

}  // namespace

ModelFamily mixtral_family() { return {"mixtral", read_mixtral, write_mixtral}; }

}  // namespace r1::policy
