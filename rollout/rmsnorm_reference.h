// The plain CPU RMSNorm the CUDA kernel (rollout/cuda/rmsnorm.h) is tested against, and that the
// reference runner (rollout/reference_runner.h) uses: host arrays, double accumulation. Standard
// library only, so the GPU test compiles it without LibTorch.
#pragma once

#include <cstdint>

namespace r1::rollout::kernels {

// out[r][c] = x[r][c] * rsqrt(mean_c(x[r][c]^2) + eps) * weight[c], each row on its own.
// Every array is dense and row-major: on the device for rmsnorm_forward, on the host here.
struct RmsNormParams {
  float* out;             // [rows, cols] result; may be x itself (in place), never a partial overlap
  const float* x;         // [rows, cols] input activations
  const float* weight;    // [cols] learned scale, one per column
  int64_t rows;           // number of independent rows (tokens); 0 launches nothing
  int64_t cols;           // row length (hidden size); > 0
  float eps;              // added to the mean square before the rsqrt; >= 0 (1e-6 in Qwen3)
  // The residual add fused in front (the transformer's `x = x + layer(x); normed = norm(x)`): with
  // `residual` set, the row normalised is x + residual (one fp32 add, as a separate add would
  // round it), and that sum is stored to `sum` (which may be x's own buffer). Both or neither.
  const float* residual = nullptr;  // [rows, cols]
  float* sum = nullptr;             // [rows, cols]
  // With out_bf16 set, out is also stored as bf16 bits (to nearest, ties to even: rollout/bf16.h):
  // the input of a GEMM with bf16 weights, rounded where it is made.
  uint16_t* out_bf16 = nullptr;     // [rows, cols]
};

// Same contract as rmsnorm_forward, with every pointer on the host; runs synchronously.
void rmsnorm_reference(const RmsNormParams& params);

}  // namespace r1::rollout::kernels
