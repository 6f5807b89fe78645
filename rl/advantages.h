// Advantages from the rewards of groups of samples of the same prompt. Three estimators:
//   group_norm     (r - mean_g) / (std_g + eps)        GRPO, DeepSeekMath / DeepSeek-R1
//   mean_only      r - mean_g                          Dr. GRPO (Liu et al. 2025): no std division,
//                                                      which favours groups of low reward variance
//   leave_one_out  r_i - mean of the other G-1         RLOO (Ahmadian et al. 2024)
// and optional batch normalisation: the batch's advantages divided by their std over the batch
// (REINFORCE++-style scale). Not re-centred: each group's advantages already have mean 0, and a
// shift would hand the groups without signal a nonzero advantage.
#pragma once

#include <string>

#include <torch/torch.h>

namespace r1::rl {

struct AdvantageConfig {
  std::string estimator = "group_norm";  // group_norm | mean_only | leave_one_out
  bool batch_normalize = false;
  double eps = 1e-4;  // added to a std before dividing

  template <class V>
  void visit(V& v) {
    v("estimator", estimator);
    v("batch_normalize", batch_normalize);
    v("eps", eps);
    v.check(estimator == "group_norm" || estimator == "mean_only" || estimator == "leave_one_out", "estimator",
            "must be group_norm, mean_only or leave_one_out");
    v.check(eps > 0, "eps", "must be > 0");
  }
};

// rewards: [groups * group_size], grouped contiguously; returns [groups * group_size] float32.
// A group whose rewards are all equal gets 0 under every estimator (it carries no signal).
torch::Tensor compute_advantages(const torch::Tensor& rewards, int64_t group_size, const AdvantageConfig& config);

}  // namespace r1::rl
