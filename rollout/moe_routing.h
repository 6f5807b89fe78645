// MoE routing and token permutation for the CUDA rollout engine, in plain C++ over host float
// arrays: the definition of what rollout/cuda/moe_router.cu and moe_permute.cu compute, and the
// reference they are tested against. The routing is the policy's (MoeImpl::route in
// policy/transformer.cpp), so that rollout chooses the experts the learner scores.
//
// Decisions:
// - Scores in fp32, as the policy's router: softmax over a token's logits (max subtracted first)
//   or the sigmoid of each. Experts are chosen on score + correction bias (DeepSeek-V3's
//   e_score_correction_bias; none when the bias is empty); the weights are the chosen experts'
//   unbiased scores, divided by their sum + 1e-20 when norm_topk_prob, then times
//   routed_scaling_factor (applied in fp32, as LibTorch multiplies a float tensor by a scalar).
// - Group-limited top-k when n_group > 1: a group's score is the sum of its two best biased
//   scores under sigmoid (V3) and its best one under softmax (V2's group_limited_greedy) — the
//   policy ties the group rule to the scoring, and so does this. The topk_group best groups are
//   kept and the other experts' choice values are set to 0, not -inf, as transformers (so the
//   policy) does: a kept expert whose biased score is below 0 loses to a dropped one. Reproduced
//   on purpose, since rollout must choose what the learner would.
// - Ties: the higher value first; among equal values the lower expert (or group) id first. Every
//   selection uses this one total order, so CPU and GPU give one answer. LibTorch's topk leaves
//   ties unspecified; they arise only from exactly equal floats.
// - A token's chosen experts are listed best first (torch.topk's sorted order), weights alongside.
// - Logits must be finite; they are not checked here (a kernel could not report it either).
// - Permutation: the (token, slot) pairs, flat index t * top_k + s, are grouped by expert —
//   expert-major, and within an expert in increasing flat index, which is token order since a
//   token picks an expert at most once. Each expert's segment is padded up to a multiple of
//   `tile` rows, so that no tile of a grouped GEMM spans two experts. Padding adds at most
//   tile - 1 rows to an expert (none to an empty one), so the rows in use never exceed
//   tokens * top_k + num_experts * (tile - 1) (permuted_capacity): a bound independent of the
//   routing, to which the buffers are allocated once.
// - Ids and rows are int32, the type the kernels index with; capacities beyond int32 are refused.
// - Bad configurations and inputs throw std::invalid_argument naming the field.
#pragma once

#include <cstdint>
#include <vector>

namespace r1::policy {
struct ModelConfig;
}

namespace r1::rollout {

enum class RouterScoring { softmax, sigmoid };

struct RouterConfig {
  int64_t num_experts = 0;                 // routed experts E
  int64_t top_k = 0;                       // experts per token, in [1, E]
  RouterScoring scoring = RouterScoring::softmax;
  int64_t n_group = 1;                     // groups of E / n_group consecutive experts; 1: plain top-k
  int64_t topk_group = 1;                  // groups kept, in [1, n_group]
  bool norm_topk_prob = false;             // renormalise the chosen weights to sum to 1
  double routed_scaling_factor = 1.0;      // multiplies the weights (DeepSeek), > 0
  std::vector<float> correction_bias;      // [E] added for choosing only; empty: none

  // std::invalid_argument naming the field: E < 1; top_k outside [1, E]; n_group < 1 or not
  // dividing E; topk_group outside [1, n_group]; topk_group * E / n_group < top_k (fewer kept
  // experts than slots); sigmoid groups of one expert (the top-2 sum needs two); a non-positive
  // or non-finite routed_scaling_factor; a bias that is neither empty nor E long.
  void validate() const;
};

// The router of one MoE layer of `model` (the policy's config, any family). The bias values live
// in the checkpoint (gate.e_score_correction_bias), so they are passed in: required, E of them,
// when model.router_correction_bias, and refused otherwise. Group-limited only for
// topk_method "group_limited", as the policy. std::invalid_argument naming the field. Defined in
// moe_router_config.cpp, the one part that reads a policy header.
RouterConfig router_config(const policy::ModelConfig& model, std::vector<float> correction_bias = {});

struct Routing {
  int64_t tokens = 0;
  int64_t top_k = 0;
  std::vector<int32_t> expert_ids;  // [tokens x top_k], best first
  std::vector<float> weights;       // [tokens x top_k]
};

// logits: [tokens x E], row-major. Validates the config, and that logits holds tokens * E values.
Routing route(const RouterConfig& config, const std::vector<float>& logits, int64_t tokens);

// Rows a permuted buffer needs for `tokens` tokens, whatever the routing:
// tokens * top_k + num_experts * (tile - 1). std::invalid_argument on a negative or zero size
// (tokens may be 0) or a result beyond int32.
int64_t permuted_capacity(int64_t tokens, int64_t top_k, int64_t num_experts, int64_t tile);

struct ExpertPermutation {
  int64_t tokens = 0, top_k = 0, num_experts = 0, tile = 1;
  int64_t capacity = 0;              // permuted_capacity(tokens, top_k, num_experts, tile)
  std::vector<int32_t> counts;       // [E] slots routed to each expert
  // [E + 1]: expert e owns rows [offsets[e], offsets[e] + counts[e]), padded up to offsets[e + 1]
  // (a multiple of tile); offsets[E] is the rows in use, <= capacity.
  std::vector<int32_t> offsets;
  std::vector<int32_t> row_of_slot;  // [tokens x top_k]: the row of slot (t, s)
  std::vector<int32_t> slot_of_row;  // [capacity]: the flat slot t * top_k + s in a row; -1 padding
};

// The expert-major order of `routing` over `num_experts` experts, segments padded to `tile`.
// std::invalid_argument for tile < 1, a routing whose arrays do not match tokens x top_k, or an
// expert id outside [0, num_experts).
ExpertPermutation permute(const Routing& routing, int64_t num_experts, int64_t tile);

// The permuted input: row r holds x[slot_of_row[r] / top_k], padding rows 0. x: [tokens x hidden];
// returns [capacity x hidden].
std::vector<float> gather_rows(const ExpertPermutation& permutation, const std::vector<float>& x, int64_t hidden);

// The weighted combine: out[t] = sum over s (in slot order, fp32) of
// weights[t, s] * expert_out[row_of_slot[t, s]]. expert_out: [capacity x hidden]; returns
// [tokens x hidden].
std::vector<float> combine(const ExpertPermutation& permutation, const Routing& routing,
                           const std::vector<float>& expert_out, int64_t hidden);

}  // namespace r1::rollout
