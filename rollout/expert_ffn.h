// The routed experts' SwiGLU feed-forward over the expert-major permutation (moe_routing.h), in
// plain C++ over host float arrays: the definition of what rollout/cuda/expert_gemm.cu computes,
// and the reference it is tested against. With permute() before and combine() after, it is the
// policy's MoE layer without its router and shared experts (MoeImpl::forward, policy/transformer.cpp).
//
// Weights are stacked per expert in nn.Linear's layout ([out][in], row-major), as the engine packs
// the policy's expert modules: w_gate, w_up [E][intermediate][hidden], w_down [E][hidden][intermediate].
//
// Decisions:
// - Row r of the permutation (an expert's segment, offsets[e] .. offsets[e] + counts[e]) holds the
//   slot slot_of_row[r]; its input is token slot / top_k's x row, read through the permutation
//   (no gathered copy of x is made). Padding rows and the unused tail (slot -1) give zeros.
// - h[r][j] = silu(g) * u, g = sum_k x[k] w_gate[e][j][k], u likewise with w_up, silu(g) =
//   g / (1 + exp(-g)); y[r][n] = sum_j h[r][j] w_down[e][n][j]. fp32, sums in increasing k: a
//   row's result depends on its own input and expert only (batch invariance).
// - std::invalid_argument naming the field for a bad shape or array size.
#pragma once

#include <cstdint>
#include <vector>

#include "rollout/moe_routing.h"

namespace r1::rollout {

struct ExpertFfnShape {
  int64_t num_experts = 0;
  int64_t hidden = 0;
  int64_t intermediate = 0;  // the expert width (moe_intermediate_size)

  // std::invalid_argument naming the field: a non-positive one.
  void validate() const;
};

// h: [capacity][intermediate]. x: [tokens][hidden].
std::vector<float> expert_swiglu_reference(const ExpertPermutation& permutation, const std::vector<float>& x,
                                           const std::vector<float>& w_gate, const std::vector<float>& w_up,
                                           const ExpertFfnShape& shape);

// y: [capacity][hidden]. h: [capacity][intermediate], as expert_swiglu_reference returns it.
std::vector<float> expert_down_reference(const ExpertPermutation& permutation, const std::vector<float>& h,
                                         const std::vector<float>& w_down, const ExpertFfnShape& shape);

}  // namespace r1::rollout
