// RMSNorm on the GPU: the launchers, fp32 math (its parameters are RmsNormParams, in
// rollout/rmsnorm_reference.h beside the reference; optionally a residual added in front and a
// bf16 copy of the output). The kernel knows rows and
// columns of floats on the device, nothing of tensors or models; the math is policy's RMSNormImpl.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "rollout/rmsnorm_reference.h"  // RmsNormParams

namespace r1::rollout::kernels {

// Validates `params` (r1::InternalError on a bad one), then launches on `stream`, asynchronously.
// A launch failure is reported here; a fault while running surfaces at the next synchronization.
void rmsnorm_forward(const RmsNormParams& params, cudaStream_t stream);

// A MoE layer's routed experts as the residual: row r's residual is the weighted combine of its
// experts' output rows (moe_combine_forward's sum, the same bits), fused in front of the next norm
// so that the combined rows are never stored. The arrays as in MoeCombineParams (expert_gemm.h);
// hidden is params.cols.
struct RmsNormMoeResidual {
  const float* expert_out;     // [capacity, cols]
  const float* weights;        // [rows, top_k]
  const int32_t* row_of_slot;  // [rows, top_k]
  int64_t capacity;
  int32_t top_k;
};
// params.residual must be null and params.sum set: sum = x + combine(residual), normalised into out.
void rmsnorm_forward(const RmsNormParams& params, const RmsNormMoeResidual& residual, cudaStream_t stream);

}  // namespace r1::rollout::kernels
