// Token sampling from logits.
#include "rollout/sampler.h"

#include <limits>

namespace r1::rollout {

SampledTokens sample_tokens(const torch::Tensor& logits, const SamplingParams& params, at::Generator& generator) {
  auto logits32 = logits.to(torch::kFloat32);
  auto raw_logprobs = torch::log_softmax(logits32, -1);
  torch::Tensor chosen;
  if (params.temperature == 0.0) {
    chosen = logits32.argmax(-1);
  } else {
    auto scaled = logits32 / params.temperature;
    const auto neg_inf = -std::numeric_limits<float>::infinity();
    const int64_t vocab = scaled.size(-1);
    if (params.top_k > 0 && params.top_k < vocab) {
      auto kth = std::get<0>(scaled.topk(params.top_k, -1)).narrow(-1, params.top_k - 1, 1);
      scaled = scaled.masked_fill(scaled < kth, neg_inf);
    }
    if (params.top_p < 1.0) {
      // Keep the smallest prefix of tokens (by probability) whose mass reaches top_p; the most
      // likely token is always kept.
      auto [sorted, order] = scaled.sort(-1, /*descending=*/true);
      auto cumulative = torch::softmax(sorted, -1).cumsum(-1);
      auto drop_sorted = (cumulative - torch::softmax(sorted, -1)) >= params.top_p;
      auto drop = torch::zeros_like(drop_sorted).scatter(-1, order, drop_sorted);
      scaled = scaled.masked_fill(drop, neg_inf);
    }
    auto probs = torch::softmax(scaled, -1);
    chosen = torch::multinomial(probs, 1, /*replacement=*/false, generator).squeeze(-1);
  }
  return {chosen, raw_logprobs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)};
}

}  // namespace r1::rollout
