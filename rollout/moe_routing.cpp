// The MoE router and the expert-major permutation, written plainly, one token at a time; see
// moe_routing.h for the rules. Kept free of LibTorch and of policy headers, so that the GPU test
// can compile it beside the kernels it checks.
#include "rollout/moe_routing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace r1::rollout {
namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

[[noreturn]] void fail(const std::string& field, const std::string& message) {
  throw std::invalid_argument(field + ": " + message);
}

std::string str(int64_t value) { return std::to_string(value); }

// The one order every selection uses: the higher value, then the lower id.
bool better(float value, int64_t id, float best_value, int64_t best_id) {
  return value > best_value || (value == best_value && id < best_id);
}

// The index of the best value among those not yet taken, which it then marks taken.
int64_t take_best(const std::vector<float>& values, std::vector<bool>& taken) {
  int64_t best = -1;
  for (int64_t i = 0; i < static_cast<int64_t>(values.size()); ++i) {
    if (taken[i]) continue;
    if (best < 0 || better(values[i], i, values[best], best)) best = i;
  }
  taken[best] = true;
  return best;
}

void scores_of(const RouterConfig& config, const float* logits, std::vector<float>& scores) {
  const int64_t experts = config.num_experts;
  if (config.scoring == RouterScoring::sigmoid) {
    for (int64_t e = 0; e < experts; ++e) scores[e] = 1.0f / (1.0f + std::exp(-logits[e]));
    return;
  }
  float max = logits[0];
  for (int64_t e = 1; e < experts; ++e) max = std::max(max, logits[e]);
  float sum = 0.0f;
  for (int64_t e = 0; e < experts; ++e) {
    scores[e] = std::exp(logits[e] - max);
    sum += scores[e];
  }
  for (int64_t e = 0; e < experts; ++e) scores[e] /= sum;
}

// Sets the choice values of every expert outside the topk_group best groups to 0 (see the header).
void limit_to_groups(const RouterConfig& config, std::vector<float>& choice) {
  const int64_t groups = config.n_group, per_group = config.num_experts / groups;
  std::vector<float> group_score(groups);
  for (int64_t g = 0; g < groups; ++g) {
    const float* values = choice.data() + g * per_group;
    float first = -std::numeric_limits<float>::infinity(), second = first;
    for (int64_t j = 0; j < per_group; ++j) {
      if (values[j] > first) {
        second = first;
        first = values[j];
      } else if (values[j] > second) {
        second = values[j];
      }
    }
    group_score[g] = config.scoring == RouterScoring::sigmoid ? first + second : first;
  }
  std::vector<bool> kept(groups, false);
  for (int64_t i = 0; i < config.topk_group; ++i) take_best(group_score, kept);
  for (int64_t e = 0; e < config.num_experts; ++e) {
    if (!kept[e / per_group]) choice[e] = 0.0f;
  }
}

}  // namespace

void RouterConfig::validate() const {
  const std::string p = "RouterConfig.";
  if (num_experts < 1 || num_experts > kInt32Max) fail(p + "num_experts", str(num_experts) + " must be in [1, 2^31)");
  if (top_k < 1 || top_k > num_experts)
    fail(p + "top_k", str(top_k) + " must be in [1, num_experts = " + str(num_experts) + "]");
  if (n_group < 1 || num_experts % n_group != 0)
    fail(p + "n_group", str(n_group) + " must be positive and divide num_experts = " + str(num_experts));
  if (topk_group < 1 || topk_group > n_group)
    fail(p + "topk_group", str(topk_group) + " must be in [1, n_group = " + str(n_group) + "]");
  if (topk_group * (num_experts / n_group) < top_k)
    fail(p + "topk_group", str(topk_group) + " groups of " + str(num_experts / n_group) +
                               " experts hold fewer than top_k = " + str(top_k));
  if (scoring == RouterScoring::sigmoid && n_group > 1 && num_experts / n_group < 2)
    fail(p + "n_group", str(n_group) + " leaves groups of one expert; sigmoid groups are ranked by their top 2");
  if (!(routed_scaling_factor > 0.0) || !std::isfinite(routed_scaling_factor))
    fail(p + "routed_scaling_factor", std::to_string(routed_scaling_factor) + " must be positive and finite");
  if (!correction_bias.empty() && static_cast<int64_t>(correction_bias.size()) != num_experts)
    fail(p + "correction_bias", "has " + str(int64_t(correction_bias.size())) +
                                    " values, not num_experts = " + str(num_experts) + " (or none)");
}

Routing route(const RouterConfig& config, const std::vector<float>& logits, int64_t tokens) {
  config.validate();
  const int64_t experts = config.num_experts, k = config.top_k;
  if (tokens < 0 || tokens > kInt32Max) fail("route.tokens", str(tokens) + " must be in [0, 2^31)");
  if (static_cast<int64_t>(logits.size()) != tokens * experts)
    fail("route.logits", "has " + str(int64_t(logits.size())) + " values, not tokens x num_experts = " +
                             str(tokens) + " x " + str(experts));

  Routing out;
  out.tokens = tokens;
  out.top_k = k;
  out.expert_ids.resize(tokens * k);
  out.weights.resize(tokens * k);
  std::vector<float> scores(experts), choice(experts);
  std::vector<bool> taken(experts);
  const auto scale = static_cast<float>(config.routed_scaling_factor);
  for (int64_t t = 0; t < tokens; ++t) {
    scores_of(config, logits.data() + t * experts, scores);
    for (int64_t e = 0; e < experts; ++e)
      choice[e] = config.correction_bias.empty() ? scores[e] : scores[e] + config.correction_bias[e];
    if (config.n_group > 1) limit_to_groups(config, choice);

    taken.assign(experts, false);
    int32_t* ids = out.expert_ids.data() + t * k;
    float* weights = out.weights.data() + t * k;
    for (int64_t j = 0; j < k; ++j) {
      ids[j] = static_cast<int32_t>(take_best(choice, taken));
      weights[j] = scores[ids[j]];  // unbiased: the bias only chooses
    }
    if (config.norm_topk_prob) {
      float sum = 0.0f;
      for (int64_t j = 0; j < k; ++j) sum += weights[j];
      const float denominator = sum + 1e-20f;
      for (int64_t j = 0; j < k; ++j) weights[j] /= denominator;
    }
    if (scale != 1.0f) {
      for (int64_t j = 0; j < k; ++j) weights[j] *= scale;
    }
  }
  return out;
}

int64_t permuted_capacity(int64_t tokens, int64_t top_k, int64_t num_experts, int64_t tile) {
  // Each term is checked against int32 first, so the products below cannot overflow int64.
  if (tokens < 0 || tokens > kInt32Max) fail("permute.tokens", str(tokens) + " must be in [0, 2^31)");
  if (top_k < 1 || top_k > kInt32Max) fail("permute.top_k", str(top_k) + " must be in [1, 2^31)");
  if (num_experts < 1 || num_experts > kInt32Max)
    fail("permute.num_experts", str(num_experts) + " must be in [1, 2^31)");
  if (tile < 1 || tile > kInt32Max) fail("permute.tile", str(tile) + " must be in [1, 2^31)");
  const int64_t rows = tokens * top_k + num_experts * (tile - 1);
  if (rows > kInt32Max)
    fail("permute.capacity", str(rows) + " rows (tokens * top_k + num_experts * (tile - 1)) exceed int32");
  return rows;
}

ExpertPermutation permute(const Routing& routing, int64_t num_experts, int64_t tile) {
  ExpertPermutation out;
  out.capacity = permuted_capacity(routing.tokens, routing.top_k, num_experts, tile);
  out.tokens = routing.tokens;
  out.top_k = routing.top_k;
  out.num_experts = num_experts;
  out.tile = tile;
  const int64_t slots = routing.tokens * routing.top_k;
  if (static_cast<int64_t>(routing.expert_ids.size()) != slots)
    fail("permute.expert_ids", "has " + str(int64_t(routing.expert_ids.size())) + " ids, not tokens x top_k = " +
                                   str(routing.tokens) + " x " + str(routing.top_k));

  out.counts.assign(num_experts, 0);
  for (int64_t i = 0; i < slots; ++i) {
    const int32_t e = routing.expert_ids[i];
    if (e < 0 || e >= num_experts)
      fail("permute.expert_ids", "slot " + str(i) + " names expert " + str(e) + ", outside [0, " +
                                     str(num_experts) + ")");
    ++out.counts[e];
  }
  out.offsets.assign(num_experts + 1, 0);
  for (int64_t e = 0; e < num_experts; ++e) {
    const int64_t padded = (out.counts[e] + tile - 1) / tile * tile;
    out.offsets[e + 1] = static_cast<int32_t>(out.offsets[e] + padded);
  }
  // One pass in slot order: each expert's rows fill in increasing slot (so token) order.
  std::vector<int32_t> next(out.offsets.begin(), out.offsets.end() - 1);
  out.row_of_slot.resize(slots);
  out.slot_of_row.assign(out.capacity, -1);
  for (int64_t i = 0; i < slots; ++i) {
    const int32_t row = next[routing.expert_ids[i]]++;
    out.row_of_slot[i] = row;
    out.slot_of_row[row] = static_cast<int32_t>(i);
  }
  return out;
}

std::vector<float> gather_rows(const ExpertPermutation& permutation, const std::vector<float>& x, int64_t hidden) {
  if (hidden < 1) fail("gather_rows.hidden", str(hidden) + " must be positive");
  if (static_cast<int64_t>(x.size()) != permutation.tokens * hidden)
    fail("gather_rows.x", "has " + str(int64_t(x.size())) + " values, not tokens x hidden = " +
                              str(permutation.tokens) + " x " + str(hidden));
  std::vector<float> out(permutation.capacity * hidden, 0.0f);
  for (int64_t row = 0; row < permutation.capacity; ++row) {
    const int32_t slot = permutation.slot_of_row[row];
    if (slot < 0) continue;
    const float* from = x.data() + (slot / permutation.top_k) * hidden;
    std::copy(from, from + hidden, out.data() + row * hidden);
  }
  return out;
}

std::vector<float> combine(const ExpertPermutation& permutation, const Routing& routing,
                           const std::vector<float>& expert_out, int64_t hidden) {
  if (hidden < 1) fail("combine.hidden", str(hidden) + " must be positive");
  if (routing.tokens != permutation.tokens || routing.top_k != permutation.top_k ||
      static_cast<int64_t>(routing.weights.size()) != routing.tokens * routing.top_k)
    fail("combine.routing", "is not the routing the permutation was made from (tokens x top_k = " +
                                str(permutation.tokens) + " x " + str(permutation.top_k) + ")");
  if (static_cast<int64_t>(expert_out.size()) != permutation.capacity * hidden)
    fail("combine.expert_out", "has " + str(int64_t(expert_out.size())) + " values, not capacity x hidden = " +
                                   str(permutation.capacity) + " x " + str(hidden));
  const int64_t k = routing.top_k;
  std::vector<float> out(routing.tokens * hidden, 0.0f);
  for (int64_t t = 0; t < routing.tokens; ++t) {
    float* into = out.data() + t * hidden;
    for (int64_t s = 0; s < k; ++s) {
      const float weight = routing.weights[t * k + s];
      const float* from = expert_out.data() + int64_t(permutation.row_of_slot[t * k + s]) * hidden;
      for (int64_t h = 0; h < hidden; ++h) into[h] += weight * from[h];
    }
  }
  return out;
}

}  // namespace r1::rollout
