// Drawing the next token from logits: temperature, top-k, top-p, with a caller-owned generator.
#pragma once

#include <torch/torch.h>

#include "rollout/engine.h"

namespace r1::rollout {

struct SampledTokens {
  torch::Tensor token_ids;  // [rows] int64
  torch::Tensor logprobs;   // [rows] float: log p(token) under the unmodified softmax(logits)
};

// logits: [rows, vocab] float. All rows share `params` and draw from `generator` in row order.
SampledTokens sample_tokens(const torch::Tensor& logits, const SamplingParams& params, at::Generator& generator);

}  // namespace r1::rollout
