// Auxiliary-loss-free load balancing: the correction-bias update and the imbalance metric.
#include "rl/load_balance.h"

#include "common/error.h"

namespace r1::rl {

std::vector<policy::Moe> moe_layers(policy::CausalLM& model) {
  std::vector<policy::Moe> result;
  for (const auto& layer : *model->model->layers) {
    auto* decoder_layer = layer->as<policy::DecoderLayer>();
    if (decoder_layer->moe) result.push_back(decoder_layer->moe);
  }
  return result;
}

void accumulate_expert_counts(std::vector<torch::Tensor>& total, const std::vector<torch::Tensor>& counts) {
  if (total.empty()) {
    for (const auto& c : counts) total.push_back(c.clone());
    return;
  }
  R1_ASSERT(total.size() == counts.size(), "expert counts of ", counts.size(), " layers added to ", total.size());
  for (std::size_t i = 0; i < counts.size(); ++i) total[i] += counts[i];
}

void update_correction_bias(policy::CausalLM& model, const std::vector<torch::Tensor>& expert_counts, double rate) {
  auto layers = moe_layers(model);
  R1_CHECK(!layers.empty(), "aux_free_bias_rate > 0 needs an MoE model; this one has no MoE layers");
  R1_CHECK(layers.front()->gate->e_score_correction_bias.defined(),
           "aux_free_bias_rate > 0 needs routers with a correction bias: set model.router_correction_bias: true "
           "(DeepSeek-V3 checkpoints have one)");
  R1_ASSERT(layers.size() == expert_counts.size(), "expert counts for ", expert_counts.size(), " layers, model has ",
            layers.size(), " MoE layers");
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    auto load = expert_counts[i].to(torch::kFloat32);
    auto& bias = layers[i]->gate->e_score_correction_bias;
    bias.add_(torch::sign(load.mean() - load).to(bias.scalar_type()), rate);
  }
}

double expert_load_imbalance(const std::vector<torch::Tensor>& expert_counts) {
  if (expert_counts.empty()) return 0.0;
  double sum = 0.0;
  for (const auto& counts : expert_counts) {
    auto load = counts.to(torch::kFloat64);
    const double mean = load.mean().item<double>();
    sum += mean > 0 ? load.max().item<double>() / mean : 0.0;
  }
  return sum / double(expert_counts.size());
}

}  // namespace r1::rl
