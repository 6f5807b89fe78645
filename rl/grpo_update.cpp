// The GRPO learner step: mini-batches, inner epochs, gradient accumulation, the loss guard and
// the load-balancing bias update (grpo_update.h).
#include "rl/grpo_update.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "common/error.h"
#include "rl/load_balance.h"

namespace r1::rl {

namespace {

// Rows [begin, end) of `order` as an index tensor.
torch::Tensor rows_of(const std::vector<int64_t>& order, std::size_t begin, std::size_t end) {
  return torch::tensor(std::vector<int64_t>(order.begin() + begin, order.begin() + end), torch::kLong);
}

torch::Tensor take(const torch::Tensor& t, const torch::Tensor& rows, bool all_rows) {
  if (!t.defined() || all_rows) return t;
  return t.index_select(0, rows);
}

// Splits `count` items into `parts` contiguous ranges of sizes differing by at most one.
std::vector<std::pair<std::size_t, std::size_t>> split(std::size_t begin, std::size_t count, std::size_t parts) {
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  parts = std::max<std::size_t>(1, std::min(parts, count));
  for (std::size_t p = 0; p < parts; ++p) {
    const std::size_t from = begin + count * p / parts, to = begin + count * (p + 1) / parts;
    if (to > from) ranges.emplace_back(from, to);
  }
  return ranges;
}

}  // namespace

GrpoStepStats grpo_update(policy::CausalLM& model, Optimizer& optimizer, const TokenBatch& batch,
                          const torch::Tensor& advantages, const torch::Tensor& ref_logprobs, const GrpoConfig& config,
                          uint64_t seed, const std::string& where) {
  const int64_t batch_size = batch.input_ids.size(0);
  R1_ASSERT(advantages.size(0) == batch_size, "grpo_update: ", advantages.size(0), " advantages for ", batch_size,
            " sequences");
  const double aux_coef = config.aux_loss_coef >= 0 ? config.aux_loss_coef : model->config().router_aux_loss_coef;
  const bool single_update = config.epochs * std::min<int64_t>(config.mini_batches, batch_size) == 1;
  const int64_t micro = config.micro_batch_size > 0 ? config.micro_batch_size : batch_size;
  model->model->activation_checkpointing = config.activation_checkpointing;

  // Old log-probs for a step of several updates: one forward without grad over the whole batch,
  // in micro-batches, before any weight moves.
  torch::Tensor old_logprobs;
  if (!single_update) {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> parts;
    for (int64_t from = 0; from < batch_size; from += micro) {
      const int64_t n = std::min(micro, batch_size - from);
      parts.push_back(token_logprobs(model, batch.input_ids.narrow(0, from, n), false, config.logprob_vocab_chunk).logprobs);
    }
    old_logprobs = torch::cat(parts, 0);
  }

  GrpoStepStats stats;
  std::vector<torch::Tensor> expert_counts;
  std::vector<int64_t> order(static_cast<std::size_t>(batch_size));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 shuffle_rng(seed);
  std::vector<torch::Tensor> mismatch_learner;  // the first pass's old log-probs, for the mismatch
  std::vector<int64_t> first_pass_order;
  double tis_sum = 0;
  for (int64_t epoch = 0; epoch < config.epochs; ++epoch) {
    if (config.mini_batches > 1) std::shuffle(order.begin(), order.end(), shuffle_rng);
    if (epoch == 0) first_pass_order = order;
    for (const auto& [mini_begin, mini_end] : split(0, order.size(), std::size_t(config.mini_batches))) {
      const double mini_sequences = double(mini_end - mini_begin);
      const auto mini_rows = rows_of(order, mini_begin, mini_end);
      const double mini_tokens = std::max(1.0, batch.loss_mask.index_select(0, mini_rows).sum().item<double>());
      const std::size_t micro_parts = (std::size_t(mini_sequences) + std::size_t(micro) - 1) / std::size_t(micro);
      double policy_loss = 0, kl = 0, entropy = 0, clip = 0, clip_low = 0, clip_high = 0, tis = 0, aux = 0;
      for (const auto& [begin, end] : split(mini_begin, mini_end - mini_begin, micro_parts)) {
        const bool all_rows = single_update && micro >= batch_size;  // the batch as it is, untouched
        const auto rows = rows_of(order, begin, end);
        auto ids = take(batch.input_ids, rows, all_rows);
        auto current = token_logprobs(model, ids, /*with_entropy=*/true, config.logprob_vocab_chunk);
        auto old = single_update ? current.logprobs.detach() : take(old_logprobs, rows, all_rows);
        GrpoLossInputs inputs{current.logprobs, old, take(batch.old_logprobs, rows, all_rows),
                              take(ref_logprobs, rows, all_rows), current.entropy, take(advantages, rows, all_rows),
                              take(batch.loss_mask, rows, all_rows)};
        if (!all_rows) {
          inputs.total_sequences = mini_sequences;
          inputs.total_tokens = mini_tokens;
        }
        auto terms = grpo_loss(inputs, config);
        const double share = all_rows ? 1.0 : double(end - begin) / mini_sequences;
        auto loss = terms.loss + (aux_coef * share) * current.aux_loss;
        const double loss_value = loss.item<double>();
        if (!std::isfinite(loss_value)) {
          for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
          R1_FAIL(where, ": the loss is ", loss_value, " (policy loss ", terms.policy_loss, ", kl ", terms.kl,
                  ", aux ", current.aux_loss.item<double>(),
                  "); stopped before the update, so the weights are those of the last step. Lower optimizer.lr, "
                  "set optimizer.grad_clip, or check the rewards");
        }
        loss.backward();
        if (epoch == 0) {
          accumulate_expert_counts(expert_counts, current.expert_counts);
          mismatch_learner.push_back(old.detach());
        }
        const double token_share = inputs.mask.sum().item<double>() / mini_tokens;
        policy_loss += terms.policy_loss;
        kl += terms.kl * token_share;
        entropy += terms.entropy * token_share;
        clip += terms.clip_fraction * token_share;
        clip_low += terms.clip_low_fraction * token_share;
        clip_high += terms.clip_high_fraction * token_share;
        tis += terms.tis_weight_mean * token_share;
        aux += current.aux_loss.item<double>() * share;
        stats.ratio_max = std::max(stats.ratio_max, terms.ratio_max);
      }
      if (stats.updates == 0) stats.lr = optimizer.current_lr();
      stats.grad_norm += optimizer.step();
      ++stats.updates;
      stats.policy_loss += policy_loss;
      stats.kl += kl;
      stats.entropy += entropy;
      stats.clip_fraction += clip;
      stats.clip_low_fraction += clip_low;
      stats.clip_high_fraction += clip_high;
      tis_sum += tis;
      stats.aux_loss += aux;
    }
  }
  model->model->activation_checkpointing = false;
  const double n = double(stats.updates);
  for (double* value : {&stats.policy_loss, &stats.kl, &stats.entropy, &stats.clip_fraction, &stats.clip_low_fraction,
                        &stats.clip_high_fraction, &stats.aux_loss, &stats.grad_norm})
    *value /= n;
  stats.tis_weight_mean = tis_sum / n;

  // The mismatch on the first pass's rows, in the order that pass visited them.
  const auto visited = torch::tensor(first_pass_order, torch::kLong);
  stats.mismatch = logprob_mismatch(torch::cat(mismatch_learner, 0), batch.old_logprobs.index_select(0, visited),
                                    batch.loss_mask.index_select(0, visited));
  stats.expert_load_imbalance = expert_load_imbalance(expert_counts);
  if (config.aux_free_bias_rate > 0) update_correction_bias(model, expert_counts, config.aux_free_bias_rate);
  return stats;
}

}  // namespace r1::rl
