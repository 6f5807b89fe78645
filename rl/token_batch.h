// Sequences (prompt + completion token ids) packed into right-padded tensors for the learner, and
// the per-token log-probabilities of a batch under a model.
#pragma once

#include <vector>

#include <torch/torch.h>

#include "policy/transformer.h"

namespace r1::rl {

struct TokenSequence {
  std::vector<int64_t> prompt_ids;
  std::vector<int64_t> completion_ids;
  std::vector<float> completion_logprobs;  // engine logprobs (RL) or empty (SFT)
};

// Target-aligned tensors: position t predicts input_ids[:, t+1].
struct TokenBatch {
  torch::Tensor input_ids;       // [batch, length] int64, right-padded
  torch::Tensor loss_mask;       // [batch, length-1] float: 1 where the target is a completion token
  torch::Tensor old_logprobs;    // [batch, length-1] float: engine logprobs at completion targets, else 0
};

// `train_on_prompt`: mask every real target (pretraining), not only the completion.
TokenBatch pack(const std::vector<TokenSequence>& sequences, int64_t pad_id, bool train_on_prompt = false);

struct TokenLogprobs {
  torch::Tensor logprobs;  // [batch, length-1]: log p(input_ids[:, t+1] | input_ids[:, :t+1])
  torch::Tensor aux_loss;  // the model's load-balancing loss for this forward
  torch::Tensor entropy;   // [batch, length-1] entropy of each next-token distribution; only when asked
  std::vector<torch::Tensor> expert_counts;  // per MoE layer: routed slots per expert (policy::RoutingStats)
};

// vocab_chunk > 0: logits built that many vocabulary entries at a time (rl/chunked_logprobs.h), for
// large vocabularies; 0: all at once (faster for small ones).
TokenLogprobs token_logprobs(policy::CausalLM& model, const torch::Tensor& input_ids, bool with_entropy = false,
                             int64_t vocab_chunk = 0);

// How far the engine's logprobs are from the learner's on the same tokens: mean k3 KL estimate of
// KL(engine || learner) and max |difference|, over masked positions. ~0 for the CPU engine (same
// modules, same dtype); the number that says whether TIS correction is needed with another engine.
struct LogprobMismatch {
  double kl = 0.0;
  double max_abs = 0.0;
};
LogprobMismatch logprob_mismatch(const torch::Tensor& learner, const torch::Tensor& engine, const torch::Tensor& mask);

// Mean of `values` over masked positions (0 when the mask is empty).
torch::Tensor masked_mean(const torch::Tensor& values, const torch::Tensor& mask);

}  // namespace r1::rl
