// Paged prefill attention: one warp per (query token, q head). Lanes hold the query and the output
// strided over the dims; per key, in position order, the warp forms the score with a butterfly sum
// (so every lane has it) and updates the online softmax. Keys are read a row at a time, coalesced
// over the lanes; the warps of a block serve neighbouring heads of one query, which in GQA share a
// KV head, so a key row is read from DRAM once per block and from L1 after. A query's work depends
// only on its own sequence and position: the same bits in any batch.
#include "rollout/cuda/paged_prefill_attention.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "common/error.h"
#include "rollout/cuda/bf16.cuh"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/warp_reduce.cuh"

namespace r1::rollout::kernels {
namespace {

constexpr int kWarps = 4;
constexpr int kKeyPerLane = kPrefillMaxKeyDim / kWarpSize;
constexpr int kValuePerLane = kPrefillMaxValueDim / kWarpSize;
constexpr int64_t kMaxGridX = std::numeric_limits<int32_t>::max();

// The pool row of (position, kv_head) of the sequence whose table is `table`; null for a block id
// outside the pool.
template <class KV>
__device__ const KV* pool_row(const KV* pool, const PagedPrefillAttentionParams& p, const int32_t* table, int pos,
                              int kv_head, int row_floats) {
  const int32_t block = table[pos / p.block_tokens];
  if (block < 0 || block >= p.num_blocks) return nullptr;
  return pool + ((int64_t(block) * p.block_tokens + pos % p.block_tokens) * p.kv_heads + kv_head) * row_floats;
}


// KV: float, or uint16_t for bf16 pools (the math stays fp32).
template <class KV>
__global__ void __launch_bounds__(kWarps * kWarpSize) paged_prefill_kernel(PagedPrefillAttentionParams p,
                                                                           const KV* k_pool, const KV* v_pool) {
  const int lane = threadIdx.x % kWarpSize;
  const int head = blockIdx.y * kWarps + threadIdx.x / kWarpSize;
  if (head >= p.q_heads) return;  // whole warps only: no block-wide barrier below
  const int kv_head = head / (p.q_heads / p.kv_heads);
  for (int64_t token = blockIdx.x; token < p.tokens; token += gridDim.x) {
    float* out = p.out + (token * p.q_heads + head) * int64_t(p.value_dim);
    const int32_t seq = p.query_seqs[token], pos = p.query_positions[token];
    bool ok = seq >= 0 && seq < p.num_seqs && pos >= 0 && int64_t(pos) < int64_t(p.max_blocks) * p.block_tokens;
    const int32_t* table = ok ? p.block_tables + int64_t(seq) * p.max_blocks : nullptr;

    float q[kKeyPerLane];
    const float* q_row = p.q + (token * p.q_heads + head) * int64_t(p.key_dim);
#pragma unroll
    for (int j = 0; j < kKeyPerLane; ++j) {
      const int d = lane + j * kWarpSize;
      q[j] = d < p.key_dim ? q_row[d] : 0.0f;
    }
    float acc[kValuePerLane];
#pragma unroll
    for (int j = 0; j < kValuePerLane; ++j) acc[j] = 0.0f;
    float m = -INFINITY, l = 0.0f;

    for (int t = 0; ok && t <= pos; ++t) {
      const KV* k = pool_row(k_pool, p, table, t, kv_head, p.key_dim);
      const KV* v = pool_row(v_pool, p, table, t, kv_head, p.value_stride);
      if (k == nullptr || v == nullptr) {  // the same block id for the whole warp: a uniform exit
        ok = false;
        break;
      }
      float dot = 0.0f;
#pragma unroll
      for (int j = 0; j < kKeyPerLane; ++j) {
        const int d = lane + j * kWarpSize;
        if (d < p.key_dim) dot = fmaf(q[j], load_as_float(k[d]), dot);
      }
      const float s = warp_sum(dot) * p.scale;
      const float m_new = fmaxf(m, s);
      const float rescale = expf(m - m_new), e = expf(s - m_new);
      l = fmaf(l, rescale, e);
#pragma unroll
      for (int j = 0; j < kValuePerLane; ++j) {
        const int d = lane + j * kWarpSize;
        if (d < p.value_dim) acc[j] = fmaf(e, load_as_float(v[d]), acc[j] * rescale);
      }
      m = m_new;
    }
#pragma unroll
    for (int j = 0; j < kValuePerLane; ++j) {
      const int d = lane + j * kWarpSize;
      if (d >= p.value_dim) continue;
      out[d] = ok ? acc[j] / l : NAN;
      if (p.out_bf16 != nullptr) p.out_bf16[(token * p.q_heads + head) * int64_t(p.value_dim) + d] = bf16_bits_rn(out[d]);
    }
  }
}

}  // namespace

void paged_prefill_attention_forward(const PagedPrefillAttentionParams& p, cudaStream_t stream) {
  R1_ASSERT(p.tokens >= 0, "paged_prefill_attention: tokens = ", p.tokens);
  R1_ASSERT(p.kv_heads >= 1 && p.q_heads >= 1 && p.q_heads % p.kv_heads == 0,
            "paged_prefill_attention: q_heads = ", p.q_heads, " must be a multiple of kv_heads = ", p.kv_heads);
  R1_ASSERT(p.key_dim >= 1 && p.key_dim <= kPrefillMaxKeyDim, "paged_prefill_attention: key_dim = ", p.key_dim,
            " (at most ", kPrefillMaxKeyDim, ")");
  R1_ASSERT(p.value_dim >= 1 && p.value_dim <= kPrefillMaxValueDim && p.value_dim <= p.value_stride,
            "paged_prefill_attention: value_dim = ", p.value_dim, " must be in [1, ", kPrefillMaxValueDim,
            "] and <= value_stride = ", p.value_stride);
  R1_ASSERT(p.block_tokens >= 1 && p.max_blocks >= 1 && p.num_blocks >= 1 && p.num_seqs >= 1,
            "paged_prefill_attention: block_tokens = ", p.block_tokens, ", max_blocks = ", p.max_blocks,
            ", num_blocks = ", p.num_blocks, ", num_seqs = ", p.num_seqs);
  R1_ASSERT(p.scale > 0.0f && std::isfinite(p.scale), "paged_prefill_attention: scale = ", p.scale);
  if (p.tokens == 0) return;  // an empty batch may come with null data pointers
  const bool bf16 = p.k_pool_bf16 != nullptr;
  R1_ASSERT(p.out != nullptr && p.q != nullptr, "paged_prefill_attention: out or q is null");
  R1_ASSERT(bf16 ? (p.v_pool_bf16 != nullptr && p.k_pool == nullptr && p.v_pool == nullptr)
                 : (p.k_pool != nullptr && p.v_pool != nullptr && p.v_pool_bf16 == nullptr),
            "paged_prefill_attention: give k_pool and v_pool both as fp32 or both as bf16 (one is null, or they are mixed)");
  R1_ASSERT(p.block_tables != nullptr && p.query_seqs != nullptr && p.query_positions != nullptr,
            "paged_prefill_attention: block_tables, query_seqs or query_positions is null");
  const int64_t head_blocks = (int64_t(p.q_heads) + kWarps - 1) / kWarps;
  R1_ASSERT(head_blocks <= 65535, "paged_prefill_attention: q_heads = ", p.q_heads, " exceeds gridDim.y");
  const dim3 grid(static_cast<unsigned int>(p.tokens < kMaxGridX ? p.tokens : kMaxGridX),
                  static_cast<unsigned int>(head_blocks));
  if (bf16) paged_prefill_kernel<uint16_t><<<grid, kWarps * kWarpSize, 0, stream>>>(p, p.k_pool_bf16, p.v_pool_bf16);
  else paged_prefill_kernel<float><<<grid, kWarps * kWarpSize, 0, stream>>>(p, p.k_pool, p.v_pool);
  R1_CUDA_CHECK(cudaGetLastError());
}

}  // namespace r1::rollout::kernels
