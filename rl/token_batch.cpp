// Packing sequences and computing token log-probabilities.
#include "rl/token_batch.h"

#include <algorithm>

#include "common/error.h"
#include "rl/chunked_logprobs.h"

namespace r1::rl {

TokenBatch pack(const std::vector<TokenSequence>& sequences, int64_t pad_id, bool train_on_prompt) {
  R1_ASSERT(!sequences.empty(), "pack: no sequences");
  int64_t length = 0;
  for (const auto& s : sequences) length = std::max<int64_t>(length, s.prompt_ids.size() + s.completion_ids.size());
  length = std::max<int64_t>(length, 2);
  const int64_t batch = sequences.size();
  auto ids = torch::full({batch, length}, pad_id, torch::kLong);
  auto mask = torch::zeros({batch, length - 1}, torch::kFloat32);
  auto old = torch::zeros({batch, length - 1}, torch::kFloat32);
  auto* ids_ptr = ids.data_ptr<int64_t>();
  auto* mask_ptr = mask.data_ptr<float>();
  auto* old_ptr = old.data_ptr<float>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto& s = sequences[b];
    const int64_t prompt_len = s.prompt_ids.size();
    const int64_t total = prompt_len + int64_t(s.completion_ids.size());
    R1_ASSERT(s.completion_logprobs.empty() || s.completion_logprobs.size() == s.completion_ids.size(),
              "pack: logprobs do not match completion tokens");
    std::copy(s.prompt_ids.begin(), s.prompt_ids.end(), ids_ptr + b * length);
    std::copy(s.completion_ids.begin(), s.completion_ids.end(), ids_ptr + b * length + prompt_len);
    // Target at position t is token t+1; completion token i sits at prompt_len + i.
    const int64_t first_target = train_on_prompt ? 0 : std::max<int64_t>(prompt_len - 1, 0);
    for (int64_t t = first_target; t < total - 1; ++t) mask_ptr[b * (length - 1) + t] = 1.0f;
    for (std::size_t i = 0; i < s.completion_logprobs.size(); ++i) {
      const int64_t t = prompt_len - 1 + int64_t(i);
      if (t >= 0) old_ptr[b * (length - 1) + t] = s.completion_logprobs[i];
    }
  }
  return {ids, mask, old};
}

TokenLogprobs token_logprobs(policy::CausalLM& model, const torch::Tensor& input_ids, bool with_entropy,
                             int64_t vocab_chunk) {
  auto out = model->forward(input_ids.narrow(1, 0, input_ids.size(1) - 1));
  auto targets = input_ids.narrow(1, 1, input_ids.size(1) - 1);
  if (vocab_chunk > 0) {
    const auto hidden = out.hidden.reshape({-1, out.hidden.size(-1)});
    auto chunked = chunked_logprobs(hidden, model->output_weight(), targets.reshape(-1), vocab_chunk);
    return {chunked.logprobs.view(targets.sizes()), out.aux_loss,
            with_entropy ? chunked.entropy.view(targets.sizes()) : torch::Tensor(), std::move(out.expert_counts)};
  }
  auto logits = model->logits(out.hidden).to(torch::kFloat32);
  auto all = torch::log_softmax(logits, -1);
  TokenLogprobs result{all.gather(-1, targets.unsqueeze(-1)).squeeze(-1), out.aux_loss, {}, std::move(out.expert_counts)};
  if (with_entropy) result.entropy = -(all.exp() * all).sum(-1);
  return result;
}

LogprobMismatch logprob_mismatch(const torch::Tensor& learner, const torch::Tensor& engine, const torch::Tensor& mask) {
  torch::NoGradGuard no_grad;
  auto log_ratio = learner - engine;  // log pi_learner / pi_engine on tokens the engine sampled
  auto k3 = torch::exp(log_ratio) - log_ratio - 1.0;
  LogprobMismatch result;
  result.kl = masked_mean(k3, mask).item<double>();
  result.max_abs = (log_ratio.abs() * mask).max().item<double>();
  return result;
}

torch::Tensor masked_mean(const torch::Tensor& values, const torch::Tensor& mask) {
  return (values * mask).sum() / mask.sum().clamp_min(1.0);
}

}  // namespace r1::rl
