// The GRPO family of policy objectives, configured from YAML (`<stage>.grpo`):
//   clipped ratio with separate bounds  [1 - clip_low, 1 + clip_high]   PPO; DAPO's clip-higher
//   dual clip for negative advantages   loss <= -dual_clip * A          Ye et al. 2020 (dual-clip PPO)
//   loss aggregation                    seq_mean_token_mean (GRPO), token_mean (DAPO),
//                                       seq_mean_token_sum (Dr. GRPO: sum / a fixed length)
//   KL to a reference                   k1 | k2 | k3 estimators (Schulman 2020), in the loss or
//                                       subtracted from the reward; beta = 0: no reference at all
//   entropy                             measured always; optional bonus
//   engine/learner mismatch             truncated importance sampling (Yao et al. 2025, "TIS"):
//                                       per-token weight min(exp(old - engine), cap)
#pragma once

#include <string>

#include <torch/torch.h>

#include "rl/advantages.h"

namespace r1::rl {

struct GrpoConfig {
  int64_t group_size = 8;       // G samples per prompt
  AdvantageConfig advantage;
  double clip_low = 0.2;        // ratio floor 1 - clip_low
  double clip_high = 0.2;       // ratio ceiling 1 + clip_high (DAPO: 0.28)
  double dual_clip = 0.0;       // 0: off; c > 1 bounds the loss of a negative-advantage token by -c * A
  std::string loss_aggregation = "seq_mean_token_mean";  // | token_mean | seq_mean_token_sum
  int64_t aggregation_length = 0;  // seq_mean_token_sum's constant; 0: the batch's padded completion width
  double kl_beta = 0.04;        // weight of the KL to the reference; 0: no reference model
  std::string kl_estimator = "k3";  // k1 | k2 | k3
  std::string kl_in = "loss";   // loss: a per-token term; reward: beta * sequence KL off each reward
  double entropy_coef = 0.0;    // > 0: entropy bonus (loss -= coef * mean entropy)
  double tis_cap = 0.0;         // 0: off; > 0: truncated importance weight on engine samples
  int64_t logprob_vocab_chunk = 0;  // > 0: the learner's logits built this many vocabulary rows at a time
  // Mechanics (rl/grpo_update.h): `epochs` passes over each batch of rollouts, each split into
  // `mini_batches` shuffled mini-batches of one optimiser update; a mini-batch's gradient is
  // accumulated over micro-batches of `micro_batch_size` sequences (0: the whole mini-batch at once).
  int64_t epochs = 1;
  int64_t mini_batches = 1;
  int64_t micro_batch_size = 0;
  bool activation_checkpointing = false;  // recompute each layer in the backward (policy/activation_checkpoint.h)
  double aux_loss_coef = -1.0;  // MoE load-balancing loss weight; < 0: the model's router_aux_loss_coef
  double aux_free_bias_rate = 0.0;  // > 0: DeepSeek-V3's bias update per step (rl/load_balance.h; V3: 0.001)
  // Sampling side (the GRPO stages):
  bool mask_truncated = false;  // DAPO's overlong filtering: completions cut at sampling.max_tokens carry no loss
  bool dynamic_sampling = false;  // DAPO: drop groups whose rewards are all equal, draw more prompts
  int64_t dynamic_sampling_max_rounds = 4;  // sampling rounds per step at most; then train on what was kept
  int64_t ref_refresh_every = 0;  // > 0: the reference becomes a copy of the policy every N steps (R1: 400)

  template <class V>
  void visit(V& v) {
    v("group_size", group_size);
    v("advantage", advantage);
    v("clip_low", clip_low);
    v("clip_high", clip_high);
    v("dual_clip", dual_clip);
    v("loss_aggregation", loss_aggregation);
    v("aggregation_length", aggregation_length);
    v("kl_beta", kl_beta);
    v("kl_estimator", kl_estimator);
    v("kl_in", kl_in);
    v("entropy_coef", entropy_coef);
    v("tis_cap", tis_cap);
    v("logprob_vocab_chunk", logprob_vocab_chunk);
    v("epochs", epochs);
    v("mini_batches", mini_batches);
    v("micro_batch_size", micro_batch_size);
    v("activation_checkpointing", activation_checkpointing);
    v("aux_loss_coef", aux_loss_coef);
    v("aux_free_bias_rate", aux_free_bias_rate);
    v("mask_truncated", mask_truncated);
    v("dynamic_sampling", dynamic_sampling);
    v("dynamic_sampling_max_rounds", dynamic_sampling_max_rounds);
    v("ref_refresh_every", ref_refresh_every);
    v.check(group_size >= 2, "group_size", "must be >= 2 (advantages compare samples of a group)");
    v.check(clip_low > 0 && clip_low < 1, "clip_low", "must be in (0, 1)");
    v.check(clip_high > 0, "clip_high", "must be > 0");
    v.check(dual_clip == 0 || dual_clip > 1, "dual_clip", "must be 0 (off) or > 1");
    v.check(loss_aggregation == "seq_mean_token_mean" || loss_aggregation == "token_mean" ||
                loss_aggregation == "seq_mean_token_sum",
            "loss_aggregation", "must be seq_mean_token_mean, token_mean or seq_mean_token_sum");
    v.check(aggregation_length >= 0, "aggregation_length", "must be >= 0");
    v.check(kl_beta >= 0, "kl_beta", "must be >= 0");
    v.check(kl_estimator == "k1" || kl_estimator == "k2" || kl_estimator == "k3", "kl_estimator",
            "must be k1, k2 or k3");
    v.check(kl_in == "loss" || kl_in == "reward", "kl_in", "must be loss or reward");
    v.check(entropy_coef >= 0, "entropy_coef", "must be >= 0");
    v.check(tis_cap >= 0, "tis_cap", "must be >= 0 (0 turns it off)");
    v.check(epochs >= 1, "epochs", "must be >= 1");
    v.check(mini_batches >= 1, "mini_batches", "must be >= 1");
    v.check(micro_batch_size >= 0, "micro_batch_size", "must be >= 0 (0: the whole mini-batch at once)");
    v.check(aux_free_bias_rate >= 0, "aux_free_bias_rate", "must be >= 0 (0 turns it off)");
    v.check(dynamic_sampling_max_rounds >= 1, "dynamic_sampling_max_rounds", "must be >= 1");
    v.check(ref_refresh_every >= 0, "ref_refresh_every", "must be >= 0 (0: the reference never changes)");
    v.check(ref_refresh_every == 0 || kl_beta > 0, "ref_refresh_every", "needs kl_beta > 0 (no reference otherwise)");
    v.check(logprob_vocab_chunk >= 0, "logprob_vocab_chunk", "must be >= 0 (0: whole vocabulary at once)");
  }
};

// Per-token KL(policy || reference) estimates from log-probabilities of sampled tokens:
// k1 = logp - ref (unbiased, can be negative), k2 = (logp - ref)^2 / 2, k3 = exp(ref - logp) - (ref - logp) - 1.
torch::Tensor kl_estimate(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs, const std::string& estimator);
torch::Tensor k3_kl(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs);

// Per-sequence sum of the KL estimate over completion tokens, [batch]: what kl_in = reward
// subtracts (times beta) from each sample's reward before advantages.
torch::Tensor sequence_kl(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs, const torch::Tensor& mask,
                          const std::string& estimator);

// Everything per token is [batch, length-1], aligned with TokenBatch; advantages are [batch].
struct GrpoLossInputs {
  torch::Tensor logprobs;         // the learner's, with grad
  torch::Tensor old_logprobs;     // the learner's before this batch's first update (detached)
  torch::Tensor engine_logprobs;  // the sampler's; needed only for tis_cap > 0
  torch::Tensor ref_logprobs;     // needed only when kl_beta > 0 and kl_in == loss
  torch::Tensor entropy;          // per-token entropy (with grad for a bonus); may be undefined
  torch::Tensor advantages;
  torch::Tensor mask;             // 1 on completion tokens that count (truncated ones may be masked out)
  // When this batch is one micro-batch of a larger mini-batch: the mini-batch's sequence and
  // masked-token counts, so the micro-batches' losses add up to the mini-batch's (0: this batch's own).
  double total_sequences = 0;
  double total_tokens = 0;
};

struct GrpoLossTerms {
  torch::Tensor loss;            // scalar to minimise
  double policy_loss = 0.0;      // the clipped surrogate part, aggregated like the loss
  double kl = 0.0;               // mean KL estimate over completion tokens
  double entropy = 0.0;          // mean entropy over completion tokens
  double clip_fraction = 0.0;    // share of completion tokens whose ratio was outside [1 - low, 1 + high]
  double clip_low_fraction = 0.0;   // share where the lower bound held the loss (A < 0, ratio < 1 - low)
  double clip_high_fraction = 0.0;  // share where the upper bound held it (A > 0, ratio > 1 + high)
  double ratio_max = 1.0;        // largest policy ratio on a completion token
  double tis_weight_mean = 1.0;  // mean truncated importance weight (1 when off)
};

GrpoLossTerms grpo_loss(const GrpoLossInputs& in, const GrpoConfig& config);

// Reduces per-token values [batch, length-1] to a scalar by the configured aggregation. With
// total_sequences / total_tokens > 0 the divisors are those of the mini-batch this batch is a part of.
torch::Tensor aggregate(const torch::Tensor& per_token, const torch::Tensor& mask, const std::string& mode,
                        int64_t aggregation_length, double total_sequences = 0, double total_tokens = 0);

}  // namespace r1::rl
