// Qwen3 (model_type "qwen3"): dense SwiGLU, GQA with a per-head RMSNorm of q and k before RoPE;
// attention_bias puts biases on all four projections.
#include "policy/models/family.h"
#include "policy/models/hf_config.h"

namespace r1::policy {

namespace {

ModelConfig read_qwen3(const nlohmann::json& j, const std::string& origin) {
  hf::ConfigReader r(j, origin);
  ModelConfig c;
  hf::read_common(r, c, /*default_rope_theta=*/10000.0);
  r.require("intermediate_size", c.intermediate_size);
  hf::check_no_sliding_window(r);
  bool attention_bias = false;
  r.get("attention_bias", attention_bias);
  c.qkv_bias = c.o_bias = attention_bias;
  c.qk_norm = true;
  hf::check_shape(r, c);
  return c;
}

nlohmann::json write_qwen3(const ModelConfig& c) {
  auto j = hf::write_common(c, "Qwen3ForCausalLM");
  j["attention_bias"] = c.qkv_bias;
  return j;
}

}  // namespace

ModelFamily qwen3_family() { return {"qwen3", read_qwen3, write_qwen3}; }

}  // namespace r1::policy
