// One learner step of GRPO on a batch of rollouts, with the mechanics grpo.h's config names:
//   old log-probs   the learner's own before the step's first update. With one update per batch
//                   they come from the very forward that update uses, so the ratio is exactly 1;
//                   with more, from a forward without grad before the first.
//   updates         `epochs` passes, each over `mini_batches` mini-batches drawn by a seeded shuffle
//                   of the sequences; one optimiser step per mini-batch (PPO's inner loop)
//   accumulation    a mini-batch's gradient summed over micro-batches of `micro_batch_size`
//                   sequences, each micro-batch's loss divided by the mini-batch's counts so the
//                   sum is the mini-batch's loss (grpo_loss's total_sequences / total_tokens)
//   guard           a non-finite loss or gradient norm stops the step before any weight moves
//   balancing       after the updates, the aux-loss-free bias update from the expert counts of
//                   the first pass (rl/load_balance.h), when aux_free_bias_rate > 0
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "policy/transformer.h"
#include "rl/grpo.h"
#include "rl/optimizer.h"
#include "rl/token_batch.h"

namespace r1::rl {

struct GrpoStepStats {
  int64_t updates = 0;             // optimiser steps taken
  double policy_loss = 0.0;        // means over the updates
  double kl = 0.0;
  double entropy = 0.0;
  double clip_fraction = 0.0;
  double clip_low_fraction = 0.0;
  double clip_high_fraction = 0.0;
  double tis_weight_mean = 1.0;
  double aux_loss = 0.0;
  double grad_norm = 0.0;          // mean over updates, before clipping
  double ratio_max = 1.0;          // over every update
  double lr = 0.0;                 // of the first update
  double expert_load_imbalance = 0.0;  // max/mean expert load over the first pass (0: dense)
  LogprobMismatch mismatch;        // engine vs the learner's old log-probs, on the sampled tokens
};

// `batch` holds the rollouts (loss_mask: the tokens that count; old_logprobs: the engine's),
// `advantages` one per sequence, `ref_logprobs` the reference's per token (undefined when the loss
// has no KL term). `seed` orders the mini-batches; `where` ("zero step 12") starts error messages.
GrpoStepStats grpo_update(policy::CausalLM& model, Optimizer& optimizer, const TokenBatch& batch,
                          const torch::Tensor& advantages, const torch::Tensor& ref_logprobs, const GrpoConfig& config,
                          uint64_t seed, const std::string& where);

}  // namespace r1::rl
