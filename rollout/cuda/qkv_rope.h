// The epilogue of a GQA layer's fused q/k/v projection, in one kernel: each head's row split out of
// the GEMM's [tokens][q | k | v] output, its bias added, Qwen3's per-head RMSNorm on q and k, RoPE
// (rotate-half, from the policy's tables) on q and k, then q stored dense for attention and k, v
// written into the paged K/V pool at the token's slot (rounded to bf16 for a bf16 pool). Five to
// seven launches of the separate ops in one, which is what decode at small batch is bound by.
//
// Its reference is those ops' references composed, in this order: the bias add (one fp32 add per
// element), rmsnorm_reference (rollout/rmsnorm_reference.h) per head row, apply_rotary_reference
// (rollout/rotary.h), the slot write of rollout/reference_runner.cpp. The RoPE is theirs bit for
// bit on the same input; the norm's sum of squares is a warp's (fp32 in a fixed order), the
// reference's a double: within 1e-6 relative.
// Nothing is read back to the host; a slot outside [0, pool_rows) is not written (graph padding),
// a position outside [0, max_position) gives NaN in the rotated dims of that token's q and k (the
// RoPE kernel's convention; the runner refuses such positions before any launch).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace r1::rollout::kernels {

constexpr int32_t kQkvRopeMaxHeadDim = 512;

struct QkvRopeParams {
  float* q_out;                         // [tokens][q_heads][head_dim]
  float* k_pool = nullptr;              // [pool_rows][kv_heads][head_dim], fp32 ...
  float* v_pool = nullptr;
  uint16_t* k_pool_bf16 = nullptr;      // ... or bf16 bits (both pools the same kind)
  uint16_t* v_pool_bf16 = nullptr;
  const float* packed;                  // [tokens][(q_heads + 2 kv_heads) head_dim]: q, k, v
  const float* bias = nullptr;          // [(q_heads + 2 kv_heads) head_dim] or null
  const float* q_norm = nullptr;        // [head_dim] Qwen3's per-head norms, or both null
  const float* k_norm = nullptr;
  float eps = 0.0f;
  const float* cos_table;               // [max_position][rope_dim]
  const float* sin_table;
  const int32_t* positions;             // [tokens]
  const int64_t* slots;                 // [tokens]: pool row of each token's K/V
  int64_t tokens = 0;                   // 0 launches nothing
  int64_t pool_rows = 0;
  int32_t q_heads = 0, kv_heads = 0, head_dim = 0;
  int32_t rope_dim = 0;                 // even, <= head_dim: the first rope_dim dims of a head rotate
  int32_t max_position = 0;
};

// Validates `params` (r1::InternalError on a bad one), then launches on `stream`, asynchronously.
void qkv_rope_forward(const QkvRopeParams& params, cudaStream_t stream);

}  // namespace r1::rollout::kernels
