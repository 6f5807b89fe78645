// GRPO advantages and loss.
#include "rl/grpo.h"

#include "common/error.h"

namespace r1::rl {

torch::Tensor group_advantages(const torch::Tensor& rewards, int64_t group_size, double eps) {
  R1_ASSERT(rewards.dim() == 1 && rewards.size(0) % group_size == 0, "rewards must be [groups * group_size]");
  auto grouped = rewards.to(torch::kFloat32).view({-1, group_size});
  auto mean = grouped.mean(1, true);
  auto std = grouped.std(1, /*unbiased=*/true, true);
  return ((grouped - mean) / (std + eps)).view(-1);
}

torch::Tensor k3_kl(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs) {
  auto log_ratio = ref_logprobs - logprobs;
  return torch::exp(log_ratio) - log_ratio - 1.0;
}

GrpoLossTerms grpo_loss(const torch::Tensor& logprobs, const torch::Tensor& old_logprobs,
                        const torch::Tensor& ref_logprobs, const torch::Tensor& advantages,
                        const torch::Tensor& mask, const GrpoConfig& config) {
  auto ratio = torch::exp(logprobs - old_logprobs);
  auto adv = advantages.unsqueeze(1);
  auto unclipped = ratio * adv;
  auto clipped = ratio.clamp(1.0 - config.clip_eps, 1.0 + config.clip_eps) * adv;
  auto policy_term = -torch::min(unclipped, clipped);
  auto per_token = policy_term;
  torch::Tensor kl;
  if (config.kl_beta > 0) {
    R1_ASSERT(ref_logprobs.defined(), "kl_beta > 0 needs reference logprobs");
    kl = k3_kl(logprobs, ref_logprobs);
    per_token = per_token + config.kl_beta * kl;
  }
  // Per-sequence mean over its completion tokens, then mean over sequences.
  auto tokens_per_seq = mask.sum(1).clamp_min(1.0);
  auto loss = ((per_token * mask).sum(1) / tokens_per_seq).mean();

  GrpoLossTerms terms;
  terms.loss = loss;
  torch::NoGradGuard no_grad;
  const double total_tokens = std::max(1.0, mask.sum().item<double>());
  terms.policy_loss = ((policy_term * mask).sum(1) / tokens_per_seq).mean().item<double>();
  terms.kl = kl.defined() ? (kl * mask).sum().item<double>() / total_tokens : 0.0;
  auto was_clipped = (unclipped != clipped).to(torch::kFloat32);
  terms.clip_fraction = (was_clipped * mask).sum().item<double>() / total_tokens;
  return terms;
}

}  // namespace r1::rl
