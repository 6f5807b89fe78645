// DeepSeek-V3's auxiliary-loss-free load balancing (Wang et al. 2024, "Auxiliary-Loss-Free Load
// Balancing Strategy for Mixture-of-Experts"; DeepSeek-V3 report, section 2.1.2): each router adds
// a per-expert bias to its scores when choosing experts (not when weighting them), and after every
// step the bias of an overloaded expert falls by `rate`, that of an underloaded one rises by it:
//   b_e += rate * sign(mean_e' load_e' - load_e)
// Balance then needs no gradient term that competes with the language-model loss.
#pragma once

#include <vector>

#include <torch/torch.h>

#include "policy/transformer.h"

namespace r1::rl {

// The MoE layers of `model`, in order (the order of ForwardOutput::expert_counts).
std::vector<policy::Moe> moe_layers(policy::CausalLM& model);

// Sums per-layer counts of several forwards (micro-batches) into `total` (empty: takes `counts`).
void accumulate_expert_counts(std::vector<torch::Tensor>& total, const std::vector<torch::Tensor>& counts);

// Moves each MoE layer's e_score_correction_bias by the rule above. UserError when the model's
// routers have no bias (model.router_correction_bias) or the counts do not match its MoE layers.
void update_correction_bias(policy::CausalLM& model, const std::vector<torch::Tensor>& expert_counts, double rate);

// max_e load_e / mean_e load_e, averaged over MoE layers: 1 is perfect balance, E is every token
// on one expert. 0 when there are no MoE layers.
double expert_load_imbalance(const std::vector<torch::Tensor>& expert_counts);

}  // namespace r1::rl
