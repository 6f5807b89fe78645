// DeepSeek-V3 / R1 (model_type "deepseek_v3"): MLA and DeepSeekMoE with the auxiliary-loss-free
// router, as transformers: sigmoid scores of fp32 logits; e_score_correction_bias (a buffer saved
// in the checkpoint) added for choosing experts only; groups ranked by the sum of their two best
// biased scores, the topk_group best kept (the rest set to 0), top-k among them; the chosen
// unbiased scores renormalised when norm_topk_prob (default true), times routed_scaling_factor.
#include "policy/models/deepseek.h"
#include "policy/models/family.h"

namespace r1::policy {

namespace {

ModelConfig read_deepseek_v3(const nlohmann::json& j, const std::string& origin) {
  hf::ConfigReader r(j, origin);
  ModelConfig c;
  c.model_type = "deepseek_v3";
  deepseek::read(r, c, {/*routed_scaling_factor=*/2.5, /*norm_topk_prob=*/true, /*rope_interleave=*/true,
                        /*n_group=*/8, /*topk_group=*/4});
  std::string scoring = "sigmoid";
  r.get("scoring_func", scoring);
  R1_CHECK(scoring == "sigmoid", origin, ": scoring_func '", scoring, "' is not supported for deepseek_v3 (sigmoid)");
  if (c.num_experts > 0)
    R1_CHECK(c.num_experts / c.n_group >= 2, origin, ": each of the n_group groups needs at least 2 experts");
  c.router_score = "sigmoid";
  c.topk_method = "group_limited";
  c.router_correction_bias = true;
  return c;
}

nlohmann::json write_deepseek_v3(const ModelConfig& c) {
  auto j = deepseek::write(c, "DeepseekV3ForCausalLM");
  j["norm_topk_prob"] = c.norm_topk_prob;
  j["rope_interleave"] = c.rope_interleave;
  return j;
}

}  // namespace

ModelFamily deepseek_v3_family() { return {"deepseek_v3", read_deepseek_v3, write_deepseek_v3}; }

}  // namespace r1::policy
