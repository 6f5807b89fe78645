// RMSNorm on the GPU: the launcher and its parameters, fp32 for now. The kernel knows rows and
// columns of floats on the device, nothing of tensors or models; the math is policy's RMSNormImpl.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace r1::rollout::kernels {

// out[r][c] = x[r][c] * rsqrt(mean_c(x[r][c]^2) + eps) * weight[c], each row on its own.
// Every array is dense and row-major, on the device (host arrays for rmsnorm_reference).
struct RmsNormParams {
  float* out;             // [rows, cols] result; may be x itself (in place), never a partial overlap
  const float* x;         // [rows, cols] input activations
  const float* weight;    // [cols] learned scale, one per column
  int64_t rows;           // number of independent rows (tokens); 0 launches nothing
  int64_t cols;           // row length (hidden size); > 0
  float eps;              // added to the mean square before the rsqrt; >= 0 (1e-6 in Qwen3)
};

// Validates `params` (r1::InternalError on a bad one), then launches on `stream`, asynchronously.
// A launch failure is reported here; a fault while running surfaces at the next synchronization.
void rmsnorm_forward(const RmsNormParams& params, cudaStream_t stream);

}  // namespace r1::rollout::kernels
