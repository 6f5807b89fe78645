// GRPO-family losses and KL estimators.
#include "rl/grpo.h"

#include "common/error.h"

namespace r1::rl {

torch::Tensor kl_estimate(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs, const std::string& estimator) {
  auto log_ratio = logprobs - ref_logprobs;  // log pi / pi_ref on tokens sampled from pi
  if (estimator == "k1") return log_ratio;
  if (estimator == "k2") return 0.5 * log_ratio.pow(2);
  R1_ASSERT(estimator == "k3", "unknown KL estimator ", estimator);
  return torch::exp(-log_ratio) + log_ratio - 1.0;
}

torch::Tensor k3_kl(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs) {
  return kl_estimate(logprobs, ref_logprobs, "k3");
}

torch::Tensor sequence_kl(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs, const torch::Tensor& mask,
                          const std::string& estimator) {
  return (kl_estimate(logprobs, ref_logprobs, estimator) * mask).sum(1);
}

torch::Tensor aggregate(const torch::Tensor& per_token, const torch::Tensor& mask, const std::string& mode,
                        int64_t aggregation_length, double total_sequences, double total_tokens) {
  auto masked = per_token * mask;
  // The mean over sequences, or the sum divided by the whole mini-batch's count for a micro-batch.
  auto over_sequences = [&](const torch::Tensor& per_sequence) {
    return total_sequences > 0 ? per_sequence.sum() / total_sequences : per_sequence.mean();
  };
  if (mode == "seq_mean_token_mean") {  // every sequence weighs the same, whatever its length
    return over_sequences(masked.sum(1) / mask.sum(1).clamp_min(1.0));
  }
  if (mode == "token_mean") {  // every token weighs the same: long samples count more (DAPO)
    return total_tokens > 0 ? masked.sum() / total_tokens : masked.sum() / mask.sum().clamp_min(1.0);
  }
  R1_ASSERT(mode == "seq_mean_token_sum", "unknown loss aggregation ", mode);
  // Dr. GRPO: a constant divisor, so a token's weight depends on neither its sequence's length nor
  // the batch's; 0 falls back to the padded width of the batch.
  const double length = aggregation_length > 0 ? double(aggregation_length) : double(per_token.size(1));
  return over_sequences(masked.sum(1) / length);
}

GrpoLossTerms grpo_loss(const GrpoLossInputs& in, const GrpoConfig& config) {
  R1_ASSERT(in.logprobs.defined() && in.old_logprobs.defined() && in.mask.defined() && in.advantages.defined(),
            "grpo_loss: logprobs, old_logprobs, advantages and mask are required");
  const auto& mask = in.mask;
  auto ratio = torch::exp(in.logprobs - in.old_logprobs.detach());
  auto adv = in.advantages.unsqueeze(1);
  auto unclipped = -ratio * adv;
  auto clipped = -ratio.clamp(1.0 - config.clip_low, 1.0 + config.clip_high) * adv;
  auto policy_term = torch::max(unclipped, clipped);
  if (config.dual_clip > 0) {
    // A < 0 and a huge ratio: the PPO term grows without bound; cap it at -c * A.
    auto capped = torch::min(policy_term, -config.dual_clip * adv);
    policy_term = torch::where(adv < 0, capped, policy_term);
  }
  torch::Tensor tis_weight;
  if (config.tis_cap > 0) {
    R1_ASSERT(in.engine_logprobs.defined(), "tis_cap > 0 needs the engine's logprobs");
    tis_weight = torch::exp(in.old_logprobs.detach() - in.engine_logprobs).clamp_max(config.tis_cap).detach();
    policy_term = policy_term * tis_weight;
  }
  auto per_token = policy_term;
  torch::Tensor kl;
  if (config.kl_beta > 0 && config.kl_in == "loss") {
    R1_ASSERT(in.ref_logprobs.defined(), "kl_beta > 0 needs reference logprobs");
    kl = kl_estimate(in.logprobs, in.ref_logprobs, config.kl_estimator);
    per_token = per_token + config.kl_beta * kl;
  }
  if (config.entropy_coef > 0) {
    R1_ASSERT(in.entropy.defined(), "entropy_coef > 0 needs per-token entropy");
    per_token = per_token - config.entropy_coef * in.entropy;
  }

  GrpoLossTerms terms;
  terms.loss = aggregate(per_token, mask, config.loss_aggregation, config.aggregation_length, in.total_sequences,
                         in.total_tokens);
  torch::NoGradGuard no_grad;
  const double masked_tokens = mask.sum().item<double>();
  const double total_tokens = std::max(1.0, masked_tokens);
  auto token_mean = [&](const torch::Tensor& values) { return (values * mask).sum().item<double>() / total_tokens; };
  terms.policy_loss = aggregate(policy_term, mask, config.loss_aggregation, config.aggregation_length,
                                in.total_sequences, in.total_tokens)
                          .item<double>();
  if (kl.defined()) terms.kl = token_mean(kl);
  if (in.entropy.defined()) terms.entropy = token_mean(in.entropy);
  terms.clip_fraction = token_mean((unclipped != clipped).to(torch::kFloat32));
  terms.clip_low_fraction = token_mean(((adv < 0) & (ratio < 1.0 - config.clip_low)).to(torch::kFloat32));
  terms.clip_high_fraction = token_mean(((adv > 0) & (ratio > 1.0 + config.clip_high)).to(torch::kFloat32));
  terms.ratio_max = masked_tokens > 0 ? ratio.masked_select(mask > 0).max().item<double>() : 1.0;
  if (tis_weight.defined()) terms.tis_weight_mean = token_mean(tis_weight);
  return terms;
}

}  // namespace r1::rl
