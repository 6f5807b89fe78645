// Rotary position embedding on the GPU: the launcher and its parameters. What it computes — the
// policy's rotate-half RoPE from the policy's own cos/sin tables, on strided rows, optionally from
// MLA's interleaved dims, in place — is apply_rotary_reference() in rollout/rotary.h, its
// reference, bit for bit (each product and sum rounded on its own). fp32.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace r1::rollout::kernels {

constexpr int32_t kRopeMaxDim = 512;  // a warp holds a row in registers: 8 pairs a lane

// Every array is on the device. Head h of token t starts at x + t * token_stride + h * head_stride.
struct RopeParams {
  float* x;                  // rotated in place; rows of distinct (token, head) may not overlap
  const float* cos_table;    // [max_position, rope_dim], the policy's RotaryEmbedding::angles
  const float* sin_table;    // [max_position, rope_dim]
  const int32_t* positions;  // [tokens]; one outside [0, max_position) gets its rows set to NaN
  int64_t tokens;            // 0 launches nothing
  int32_t heads;             // rows per token, <= 65535 (gridDim.y)
  int32_t rope_dim;          // even, in [2, kRopeMaxDim]
  int64_t token_stride;      // >= (heads - 1) * head_stride + rope_dim
  int64_t head_stride;       // >= rope_dim when heads > 1
  int32_t max_position;      // rows of the tables, >= 1
  bool interleaved;          // input dims in (even, odd) pairs; output in rotate-half order
};

// Validates `params` (r1::InternalError on a bad one), then launches on `stream`, asynchronously.
void rope_forward(const RopeParams& params, cudaStream_t stream);

}  // namespace r1::rollout::kernels
