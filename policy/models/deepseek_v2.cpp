// DeepSeek-V2 / V2-Lite (model_type "deepseek_v2"): MLA with RoPE on (even, odd) pairs, and
// DeepSeekMoE with a softmax router in fp32: topk_method "greedy" (top-k over all experts) or
// "group_limited_greedy" (groups ranked by their best expert, topk_group kept), times
// routed_scaling_factor. As transformers' deepseek_v2, the top-k weights are not renormalised
// (norm_topk_prob is kept in config.json but not applied).
#include "policy/models/deepseek.h"
#include "policy/models/family.h"

namespace r1::policy {

namespace {

ModelConfig read_deepseek_v2(const nlohmann::json& j, const std::string& origin) {
  hf::ConfigReader r(j, origin);
  ModelConfig c;
  c.model_type = "deepseek_v2";
  deepseek::read(r, c, {/*routed_scaling_factor=*/1.0, /*norm_topk_prob=*/false, /*rope_interleave=*/true,
                        /*n_group=*/1, /*topk_group=*/1});
  std::string method = "greedy";
  r.get("topk_method", method);
  R1_CHECK(method == "greedy" || method == "group_limited_greedy", origin, ": topk_method '", method,
           "' is not supported for deepseek_v2 (greedy, group_limited_greedy)");
  c.topk_method = method == "greedy" ? "greedy" : "group_limited";
  c.norm_topk_prob = false;
  return c;
}

nlohmann::json write_deepseek_v2(const ModelConfig& c) {
  auto j = deepseek::write(c, "DeepseekV2ForCausalLM");
  j["topk_method"] = c.topk_method == "greedy" ? "greedy" : "group_limited_greedy";
  return j;
}

}  // namespace

ModelFamily deepseek_v2_family() { return {"deepseek_v2", read_deepseek_v2, write_deepseek_v2}; }

}  // namespace r1::policy
