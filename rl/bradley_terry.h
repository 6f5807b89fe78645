// The Bradley–Terry objective for preference models: P(chosen > rejected) = sigmoid(r_c - r_r),
// trained by minimising -log sigmoid(r_c - r_r), the mean over pairs (InstructGPT, DeepSeek's RMs).
#pragma once

#include <torch/torch.h>

namespace r1::rl {

struct BradleyTerryTerms {
  torch::Tensor loss;     // scalar, differentiable
  double accuracy = 0.0;  // share of pairs with r_c > r_r
  double margin = 0.0;    // mean r_c - r_r
};

// chosen, rejected: [pairs] scores of the preferred and the other completion of each pair.
BradleyTerryTerms bradley_terry_loss(const torch::Tensor& chosen, const torch::Tensor& rejected);

}  // namespace r1::rl
