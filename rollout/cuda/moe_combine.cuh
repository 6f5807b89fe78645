// The weighted combine of a token's routed experts, at one hidden dim: what moe_combine_forward
// (rollout/cuda/expert_gemm.h) stores, and what RMSNorm's fused MoE residual (rollout/cuda/rmsnorm.h)
// adds — one definition, so both give the same bits. Slots in order, fmaf from 0; a row outside
// [0, capacity) (an invalid expert id) gives NaN.
#pragma once

#include <cmath>  // NAN, fmaf
#include <cstdint>

namespace r1::rollout::kernels {

__device__ __forceinline__ float moe_combined(const float* expert_out, const float* weights, const int32_t* row_of_slot,
                                              int64_t capacity, int32_t top_k, int64_t hidden, int64_t token,
                                              int64_t dim) {
  float acc = 0.0f;
  for (int s = 0; s < top_k; ++s) {
    const int32_t row = row_of_slot[token * top_k + s];
    acc = row >= 0 && row < capacity ? fmaf(weights[token * top_k + s], expert_out[int64_t(row) * hidden + dim], acc)
                                     : NAN;
  }
  return acc;
}

}  // namespace r1::rollout::kernels
