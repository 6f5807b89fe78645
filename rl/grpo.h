// GRPO: group-normalised advantages and the clipped-ratio objective with a k3 KL penalty to a
// frozen reference, as in DeepSeekMath/DeepSeek-R1.
#pragma once

#include <torch/torch.h>

namespace r1::rl {

struct GrpoConfig {
  int64_t group_size = 8;        // G samples per prompt
  double clip_eps = 0.2;         // ratio clipped to [1 - eps, 1 + eps]
  double kl_beta = 0.04;         // weight of the k3 KL estimate to the reference; 0: no reference
  double advantage_eps = 1e-4;   // added to the group's std before dividing

  template <class V>
  void visit(V& v) {
    v("group_size", group_size);
    v("clip_eps", clip_eps);
    v("kl_beta", kl_beta);
    v("advantage_eps", advantage_eps);
    v.check(group_size >= 2, "group_size", "must be >= 2 (advantages compare samples of a group)");
    v.check(clip_eps > 0 && clip_eps < 1, "clip_eps", "must be in (0, 1)");
    v.check(kl_beta >= 0, "kl_beta", "must be >= 0");
    v.check(advantage_eps > 0, "advantage_eps", "must be > 0");
  }
};

// rewards: [groups * group_size], grouped contiguously. A_i = (r_i - mean_g) / (std_g + eps), with
// the unbiased std as in the reference implementations; a group whose rewards are all equal gets 0.
torch::Tensor group_advantages(const torch::Tensor& rewards, int64_t group_size, double eps);

struct GrpoLossTerms {
  torch::Tensor loss;        // scalar to minimise
  double policy_loss = 0.0;  // the clipped surrogate part
  double kl = 0.0;           // mean k3 estimate over completion tokens
  double clip_fraction = 0.0;  // share of completion tokens whose ratio was clipped
};

// All [batch, length-1] except advantages [batch]. ref_logprobs may be undefined when kl_beta == 0.
// Per-token loss -min(r A, clip(r) A) + beta * k3, averaged over each sequence's completion tokens,
// then over sequences (the original GRPO aggregation).
GrpoLossTerms grpo_loss(const torch::Tensor& logprobs, const torch::Tensor& old_logprobs,
                        const torch::Tensor& ref_logprobs, const torch::Tensor& advantages,
                        const torch::Tensor& mask, const GrpoConfig& config);

// k3 = exp(ref - logp) - (ref - logp) - 1: unbiased, non-negative estimate of KL(policy || ref).
torch::Tensor k3_kl(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs);

}  // namespace r1::rl
