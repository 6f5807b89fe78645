// router_config(): the policy's ModelConfig read into a RouterConfig. Its own file so that
// moe_routing.cpp needs no policy header (the GPU test compiles that one beside the kernels).
#include <stdexcept>
#include <string>
#include <utility>

#include "policy/model_config.h"
#include "rollout/moe_routing.h"

namespace r1::rollout {

RouterConfig router_config(const policy::ModelConfig& model, std::vector<float> correction_bias) {
  const std::string p = "router_config: ModelConfig.";
  if (!model.is_moe()) throw std::invalid_argument(p + "num_experts: 0, a dense model has no router");
  RouterConfig config;
  config.num_experts = model.num_experts;
  config.top_k = model.num_experts_per_token;
  if (model.router_score == "softmax") {
    config.scoring = RouterScoring::softmax;
  } else if (model.router_score == "sigmoid") {
    config.scoring = RouterScoring::sigmoid;
  } else {
    throw std::invalid_argument(p + "router_score: '" + model.router_score + "' (softmax or sigmoid)");
  }
  // As MoeImpl::route: the groups apply only to topk_method "group_limited".
  if (model.topk_method == "group_limited") {
    config.n_group = model.n_group;
    config.topk_group = model.topk_group;
  } else if (model.topk_method != "greedy") {
    throw std::invalid_argument(p + "topk_method: '" + model.topk_method + "' (greedy or group_limited)");
  }
  config.norm_topk_prob = model.norm_topk_prob;
  config.routed_scaling_factor = model.routed_scaling_factor;
  if (model.router_correction_bias && static_cast<int64_t>(correction_bias.size()) != model.num_experts)
    throw std::invalid_argument(p + "router_correction_bias: the model adds e_score_correction_bias, so " +
                                std::to_string(model.num_experts) + " bias values are needed, not " +
                                std::to_string(correction_bias.size()));
  if (!model.router_correction_bias && !correction_bias.empty())
    throw std::invalid_argument(p + "router_correction_bias: false, yet a correction bias was given");
  config.correction_bias = std::move(correction_bias);
  config.validate();
  return config;
}

}  // namespace r1::rollout
