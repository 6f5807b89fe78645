// Group-relative advantage estimators.
#include "rl/advantages.h"

#include "common/error.h"

namespace r1::rl {

torch::Tensor compute_advantages(const torch::Tensor& rewards, int64_t group_size, const AdvantageConfig& config) {
  R1_ASSERT(group_size >= 1 && rewards.dim() == 1 && rewards.size(0) % group_size == 0,
            "rewards must be [groups * group_size]");
  auto grouped = rewards.to(torch::kFloat32).view({-1, group_size});
  auto centred = grouped - grouped.mean(1, true);
  torch::Tensor advantages;
  if (config.estimator == "group_norm") {
    // The unbiased std, as the reference implementations (TRL, verl) compute it.
    advantages = group_size > 1 ? centred / (grouped.std(1, /*unbiased=*/true, true) + config.eps) : centred;
  } else if (config.estimator == "mean_only") {
    advantages = centred;
  } else if (config.estimator == "leave_one_out") {
    // r_i - (sum - r_i) / (G - 1) = G / (G - 1) * (r_i - mean).
    R1_ASSERT(group_size > 1, "leave_one_out needs groups of 2 or more");
    advantages = centred * (double(group_size) / double(group_size - 1));
  } else {
    R1_ASSERT(false, "unknown advantage estimator ", config.estimator);
  }
  advantages = advantages.reshape(-1);
  if (config.batch_normalize && advantages.numel() > 1) {
    advantages = advantages / (advantages.std(/*unbiased=*/true) + config.eps);
  }
  return advantages;
}

}  // namespace r1::rl
