// Qwen2 / Qwen2.5 (model_type "qwen2"): dense SwiGLU, GQA with biases on q/k/v (none on o_proj).
#include "policy/models/family.h"
#include "policy/models/hf_config.h"

namespace r1::policy {

namespace {

ModelConfig read_qwen2(const nlohmann::json& j, const std::string& origin) {
  hf::ConfigReader r(j, origin);
  ModelConfig c;
  hf::read_common(r, c, /*default_rope_theta=*/10000.0);
  r.require("intermediate_size", c.intermediate_size);
  hf::check_no_sliding_window(r);
  c.qkv_bias = true;
  hf::check_shape(r, c);
  return c;
}

nlohmann::json write_qwen2(const ModelConfig& c) { return hf::write_common(c, "Qwen2ForCausalLM"); }

}  // namespace

ModelFamily qwen2_family() { return {"qwen2", read_qwen2, write_qwen2}; }

}  // namespace r1::policy
