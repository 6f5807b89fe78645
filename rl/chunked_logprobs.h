// Log-probabilities and entropies of target tokens computed over the vocabulary in chunks, so the
// full [tokens x vocabulary] logits never sit in memory at once (forward or backward): with a
// 150k vocabulary and 64k tokens those logits alone are 38 GB in fp32. The forward keeps an online
// log-sum-exp per token; the backward recomputes each chunk's logits. Memory: O(tokens x chunk).
#pragma once

#include <torch/torch.h>

namespace r1::rl {

struct ChunkedLogprobs {
  torch::Tensor logprobs;  // [tokens]: log softmax(hidden @ weight^T)[target]
  torch::Tensor entropy;   // [tokens]: entropy of each row's distribution
};

// hidden [tokens, H], weight [V, H], targets [tokens] int64; differentiable in hidden and weight.
// Computed in fp32 whatever the input dtype.
ChunkedLogprobs chunked_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                                 const torch::Tensor& targets, int64_t vocab_chunk);

}  // namespace r1::rl
