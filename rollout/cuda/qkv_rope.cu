// The fused q/k/v epilogue (see the header): one warp per (token, head row), the rows of a token
// being its q heads, then its k heads, then its v heads. A lane holds elements lane, lane + 32, ...
// of the row; the row is staged in the warp's shared memory so that RoPE can read each element's
// partner (i +- half) whichever lane holds it.
#include "rollout/cuda/qkv_rope.h"

#include <cstdint>
#include <limits>

#include "common/error.h"
#include "rollout/cuda/bf16.cuh"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/warp_reduce.cuh"

namespace r1::rollout::kernels {
namespace {

constexpr int kWarps = 4;
constexpr int kPerLane = kQkvRopeMaxHeadDim / kWarpSize;
constexpr int64_t kMaxBlocks = std::numeric_limits<int32_t>::max();

__global__ void __launch_bounds__(kWarps * kWarpSize) qkv_rope_kernel(QkvRopeParams p) {
  __shared__ float staged[kWarps][kQkvRopeMaxHeadDim];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int d = p.head_dim, half = p.rope_dim / 2;
  const int rows = p.q_heads + 2 * p.kv_heads;
  const int64_t total = int64_t(rows) * d;
  float* row_s = staged[warp];
  for (int64_t item = int64_t(blockIdx.x) * kWarps + warp; item < p.tokens * rows; item += int64_t(gridDim.x) * kWarps) {
    const int64_t t = item / rows;
    const int r = int(item % rows);
    const bool is_q = r < p.q_heads, is_v = r >= p.q_heads + p.kv_heads;
    const float* src = p.packed + t * total + int64_t(r) * d;
    const float* bias = p.bias != nullptr ? p.bias + int64_t(r) * d : nullptr;
    const float* norm = is_v ? nullptr : is_q ? p.q_norm : p.k_norm;
    float v[kPerLane];
    float sum_sq = 0.0f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int i = lane + j * kWarpSize;
      if (i < d) {
        v[j] = bias != nullptr ? __fadd_rn(src[i], bias[i]) : src[i];
        sum_sq = fmaf(v[j], v[j], sum_sq);
      }
    }
    if (norm != nullptr) {  // RMSNorm over the head's row, as the rmsnorm kernel computes a row
      const float inv_rms = rsqrtf(warp_sum(sum_sq) / static_cast<float>(d) + p.eps);
#pragma unroll
      for (int j = 0; j < kPerLane; ++j) {
        const int i = lane + j * kWarpSize;
        if (i < d) v[j] = v[j] * inv_rms * norm[i];
      }
    }
    const int32_t pos = p.positions[t];
    const bool bad_pos = pos < 0 || pos >= p.max_position;
    const bool rotate = !is_v && p.rope_dim > 0;
    if (rotate) {
#pragma unroll
      for (int j = 0; j < kPerLane; ++j)
        if (lane + j * kWarpSize < d) row_s[lane + j * kWarpSize] = v[j];
      __syncwarp();  // the row staged before any lane reads a partner
      const float* cos = p.cos_table + int64_t(bad_pos ? 0 : pos) * p.rope_dim;
      const float* sin = p.sin_table + int64_t(bad_pos ? 0 : pos) * p.rope_dim;
#pragma unroll
      for (int j = 0; j < kPerLane; ++j) {
        const int i = lane + j * kWarpSize;
        if (i >= p.rope_dim) continue;  // past the rotated dims (and past d): as it is
        if (bad_pos) v[j] = NAN;        // device data the launcher cannot check
        else if (i < half) v[j] = __fadd_rn(__fmul_rn(row_s[i], cos[i]), __fmul_rn(-row_s[i + half], sin[i]));
        else v[j] = __fadd_rn(__fmul_rn(row_s[i], cos[i]), __fmul_rn(row_s[i - half], sin[i]));
      }
      __syncwarp();  // every partner read before the warp's next row is staged
    }
    if (is_q) {
      float* out = p.q_out + (t * p.q_heads + r) * d;
#pragma unroll
      for (int j = 0; j < kPerLane; ++j)
        if (lane + j * kWarpSize < d) out[lane + j * kWarpSize] = v[j];
      continue;
    }
    const int64_t slot = p.slots[t];
    if (slot < 0 || slot >= p.pool_rows) continue;  // graph padding: nothing written
    const int head = is_v ? r - p.q_heads - p.kv_heads : r - p.q_heads;
    const int64_t at = (slot * p.kv_heads + head) * d;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int i = lane + j * kWarpSize;
      if (i >= d) continue;
      if (p.k_pool != nullptr) store_as((is_v ? p.v_pool : p.k_pool) + at + i, v[j]);
      else store_as((is_v ? p.v_pool_bf16 : p.k_pool_bf16) + at + i, v[j]);
    }
  }
}

}  // namespace

void qkv_rope_forward(const QkvRopeParams& p, cudaStream_t stream) {
  R1_ASSERT(p.tokens >= 0 && p.pool_rows >= 0, "qkv_rope: tokens = ", p.tokens, ", pool_rows = ", p.pool_rows);
  R1_ASSERT(p.q_heads >= 1 && p.kv_heads >= 1, "qkv_rope: q_heads = ", p.q_heads, ", kv_heads = ", p.kv_heads);
  R1_ASSERT(p.head_dim >= 1 && p.head_dim <= kQkvRopeMaxHeadDim, "qkv_rope: head_dim = ", p.head_dim, " (at most ",
            kQkvRopeMaxHeadDim, ")");
  R1_ASSERT(p.rope_dim >= 0 && p.rope_dim % 2 == 0 && p.rope_dim <= p.head_dim, "qkv_rope: rope_dim = ", p.rope_dim,
            " must be even, at most head_dim = ", p.head_dim);
  R1_ASSERT((p.q_norm == nullptr) == (p.k_norm == nullptr), "qkv_rope: q_norm and k_norm go together");
  R1_ASSERT(p.max_position >= 1, "qkv_rope: max_position = ", p.max_position);
  const bool f32 = p.k_pool != nullptr && p.v_pool != nullptr && p.k_pool_bf16 == nullptr && p.v_pool_bf16 == nullptr;
  const bool bf16 = p.k_pool == nullptr && p.v_pool == nullptr && p.k_pool_bf16 != nullptr && p.v_pool_bf16 != nullptr;
  R1_ASSERT(f32 || bf16, "qkv_rope: the K and V pools must be given both as fp32 or both as bf16");
  if (p.tokens == 0) return;
  R1_ASSERT(p.q_out != nullptr && p.packed != nullptr && p.positions != nullptr && p.slots != nullptr,
            "qkv_rope: q_out, packed, positions or slots is null");
  R1_ASSERT(p.rope_dim == 0 || (p.cos_table != nullptr && p.sin_table != nullptr), "qkv_rope: the RoPE tables are null");
  const int64_t items = p.tokens * (p.q_heads + 2 * p.kv_heads);
  const int64_t blocks = (items + kWarps - 1) / kWarps;
  qkv_rope_kernel<<<static_cast<unsigned int>(blocks < kMaxBlocks ? blocks : kMaxBlocks), kWarps * kWarpSize, 0,
                    stream>>>(p);
  R1_CUDA_CHECK(cudaGetLastError());
}

}  // namespace r1::rollout::kernels
