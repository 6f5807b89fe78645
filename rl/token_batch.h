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
};

TokenLogprobs token_logprobs(policy::CausalLM& model, const torch::Tensor& input_ids);

// Mean of `values` over masked positions (0 when the mask is empty).
torch::Tensor masked_mean(const torch::Tensor& values, const torch::Tensor& mask);

}  // namespace r1::rl
