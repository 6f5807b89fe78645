// Split-KV paged decode attention: a split kernel, one thread block per (sequence, q head, split),
// that reads its split's K/V through the block table and writes the split's max, sum of exp and
// own output to the workspace; then a merge kernel, one block per (sequence, q head), that combines
// the splits in order by log-sum-exp. fp32 throughout. A block's work depends only on its own
// sequence, so a result is the same bits whatever else is in the batch.
#include "rollout/cuda/paged_attention.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "common/error.h"
#include "rollout/cuda/bf16.cuh"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/warp_reduce.cuh"

namespace r1::rollout::kernels {
namespace {

constexpr int kThreads = 128;  // 4 warps: 4 tokens' scores at once; one output dim a thread at head_dim 128
constexpr int kWarps = kThreads / kWarpSize;
constexpr int64_t kMaxGridX = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxGridYZ = 65535;

// The sequence's context length, or -1 when it is outside [1, max_context_len] (device data the
// launcher cannot check): such a sequence gets NaN rows and no K/V is read for it.
__device__ int context_len_of(const PagedDecodeAttentionParams& p, int64_t seq) {
  const int len = p.context_lens[seq];
  return len >= 1 && len <= p.max_context_len ? len : -1;
}

// Position `pos` of the sequence whose table row is `table`, head `kv_head`, in a pool; null when
// the table names a block outside the pool.
template <class KV>
__device__ const KV* token_row(const KV* pool, const PagedDecodeAttentionParams& p, const int32_t* table, int pos,
                               int kv_head) {
  const int32_t block = table[pos / p.block_tokens];
  if (block < 0 || block >= p.num_blocks) return nullptr;
  return pool + ((int64_t(block) * p.block_tokens + pos % p.block_tokens) * p.kv_heads + kv_head) * p.head_dim;
}

struct Workspace {
  float* max;      // [num_seqs, q_heads, splits]
  float* sum;      // [num_seqs, q_heads, splits]
  float* partial;  // [num_seqs, q_heads, splits, head_dim]
};

__device__ Workspace workspace_of(const PagedDecodeAttentionParams& p, int splits) {
  const int64_t entries = p.num_seqs * p.q_heads * splits;
  return {p.workspace, p.workspace + entries, p.workspace + 2 * entries};
}


// grid (num_seqs, q_heads, splits). Shared: the query [head_dim], then the split's scores, later
// their exps [split_tokens]. The per-split rounding depends on split_tokens, head_dim and the data,
// never on the grid.
// KV: float, or uint16_t for bf16 pools (the math stays fp32).
template <class KV>
__global__ void __launch_bounds__(kThreads) paged_split_kernel(PagedDecodeAttentionParams p, int splits,
                                                               const KV* k_pool, const KV* v_pool) {
  extern __shared__ float shared[];
  __shared__ float scratch[kWarps];
  float* q = shared;
  float* logits = shared + p.head_dim;
  const int64_t seq = blockIdx.x;
  const int head = blockIdx.y, split = blockIdx.z;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int len = context_len_of(p, seq);
  const int begin = split * p.split_tokens;
  if (begin >= len) return;  // past this sequence's last split (or a bad length): uniform, before any barrier
  const int count = min(p.split_tokens, len - begin);
  const int kv_head = head / (p.q_heads / p.kv_heads);
  const int32_t* table = p.block_tables + seq * p.max_blocks;
  const int64_t row = (seq * p.q_heads + head) * int64_t(p.head_dim);

  for (int d = threadIdx.x; d < p.head_dim; d += kThreads) q[d] = p.q[row + d];
  __syncthreads();

  // A warp per token, lanes over head_dim: coalesced reads of the token's K row.
  for (int t = warp; t < count; t += kWarps) {
    const KV* k = token_row(k_pool, p, table, begin + t, kv_head);
    float dot = 0.0f;
    if (k != nullptr) {
      for (int d = lane; d < p.head_dim; d += kWarpSize) dot = fmaf(q[d], load_as_float(k[d]), dot);
    }
    dot = warp_sum(dot);
    if (lane == 0) logits[t] = k != nullptr ? dot * p.scale : NAN;
  }
  __syncthreads();

  float max = -INFINITY;
  for (int t = threadIdx.x; t < count; t += kThreads) max = fmaxf(max, logits[t]);
  max = block_max(max, scratch);
  float sum = 0.0f;
  for (int t = threadIdx.x; t < count; t += kThreads) {
    const float e = expf(logits[t] - max);  // fmaxf drops NaN; the sum below carries it
    logits[t] = e;
    sum += e;
  }
  sum = block_sum(sum, scratch);  // its barriers also publish the exps

  // A thread per output dim, tokens in position order (the reference's order), coalesced over d.
  const Workspace ws = workspace_of(p, splits);
  const int64_t entry = (seq * p.q_heads + head) * splits + split;
  for (int d = threadIdx.x; d < p.head_dim; d += kThreads) {
    float acc = 0.0f;
    for (int t = 0; t < count; ++t) {
      const KV* v = token_row(v_pool, p, table, begin + t, kv_head);
      acc = v != nullptr ? fmaf(logits[t], load_as_float(v[d]), acc) : NAN;
    }
    ws.partial[entry * p.head_dim + d] = acc / sum;
  }
  if (threadIdx.x == 0) {
    ws.max[entry] = max;
    ws.sum[entry] = sum;
  }
}

// grid (num_seqs, q_heads). Every thread computes the global max itself (splits are few), then
// merges its dims over the splits in order: w_c = sum_c * exp(max_c - M), out = sum w_c o_c / sum w_c.
__global__ void __launch_bounds__(kThreads) paged_merge_kernel(PagedDecodeAttentionParams p, int splits) {
  const int64_t seq = blockIdx.x;
  const int head = blockIdx.y;
  float* out = p.out + (seq * p.q_heads + head) * int64_t(p.head_dim);
  const int len = context_len_of(p, seq);
  uint16_t* out_bf16 = p.out_bf16 != nullptr ? p.out_bf16 + (seq * p.q_heads + head) * int64_t(p.head_dim) : nullptr;
  if (len < 0) {
    for (int d = threadIdx.x; d < p.head_dim; d += kThreads) {
      out[d] = NAN;
      if (out_bf16 != nullptr) out_bf16[d] = bf16_bits_rn(NAN);
    }
    return;
  }
  const int used = (len + p.split_tokens - 1) / p.split_tokens;
  const Workspace ws = workspace_of(p, splits);
  const int64_t first = (seq * p.q_heads + head) * splits;
  float max = ws.max[first];
  for (int c = 1; c < used; ++c) max = fmaxf(max, ws.max[first + c]);
  for (int d = threadIdx.x; d < p.head_dim; d += kThreads) {
    float total = 0.0f, acc = 0.0f;
    for (int c = 0; c < used; ++c) {
      const float w = ws.sum[first + c] * expf(ws.max[first + c] - max);
      total += w;
      acc = fmaf(w, ws.partial[(first + c) * p.head_dim + d], acc);
    }
    out[d] = acc / total;
    if (out_bf16 != nullptr) out_bf16[d] = bf16_bits_rn(out[d]);
  }
}

int64_t splits_for(int32_t max_context_len, int32_t split_tokens) {
  return (int64_t(max_context_len) + split_tokens - 1) / split_tokens;
}

}  // namespace

int64_t paged_decode_attention_workspace_bytes(int64_t num_seqs, int32_t q_heads, int32_t head_dim,
                                               int32_t max_context_len, int32_t split_tokens) {
  R1_ASSERT(num_seqs >= 0 && q_heads >= 1 && head_dim >= 1 && max_context_len >= 0 && split_tokens >= 1,
            "paged_attention workspace: num_seqs = ", num_seqs, ", q_heads = ", q_heads, ", head_dim = ", head_dim,
            ", max_context_len = ", max_context_len, ", split_tokens = ", split_tokens);
  const int64_t entries = num_seqs * q_heads * splits_for(max_context_len, split_tokens);
  return entries * (2 + int64_t(head_dim)) * int64_t(sizeof(float));
}

void paged_decode_attention_forward(const PagedDecodeAttentionParams& p, cudaStream_t stream) {
  R1_ASSERT(p.num_seqs >= 0 && p.num_seqs <= kMaxGridX, "paged_attention: num_seqs = ", p.num_seqs);
  R1_ASSERT(p.kv_heads >= 1 && p.q_heads >= 1 && p.q_heads % p.kv_heads == 0 && p.q_heads <= kMaxGridYZ,
            "paged_attention: q_heads = ", p.q_heads, " must be a multiple of kv_heads = ", p.kv_heads,
            " (at most ", kMaxGridYZ, ")");
  R1_ASSERT(p.head_dim >= 1 && p.head_dim <= kPagedAttentionMaxHeadDim, "paged_attention: head_dim = ", p.head_dim,
            " (at most ", kPagedAttentionMaxHeadDim, ")");
  R1_ASSERT(p.block_tokens >= 1 && p.max_blocks >= 1 && p.num_blocks >= 1, "paged_attention: block_tokens = ",
            p.block_tokens, ", max_blocks = ", p.max_blocks, ", num_blocks = ", p.num_blocks);
  R1_ASSERT(p.split_tokens >= 1 && p.split_tokens % p.block_tokens == 0 &&
                p.split_tokens <= kPagedAttentionMaxSplitTokens,
            "paged_attention: split_tokens = ", p.split_tokens, " must be a multiple of block_tokens = ",
            p.block_tokens, " (at most ", kPagedAttentionMaxSplitTokens, ")");
  R1_ASSERT(p.max_context_len >= 1 && int64_t(p.max_context_len) <= int64_t(p.max_blocks) * p.block_tokens,
            "paged_attention: max_context_len = ", p.max_context_len, " outside [1, max_blocks * block_tokens = ",
            int64_t(p.max_blocks) * p.block_tokens, "]");
  R1_ASSERT(p.scale > 0.0f && std::isfinite(p.scale), "paged_attention: scale = ", p.scale);
  const int64_t splits = splits_for(p.max_context_len, p.split_tokens);
  R1_ASSERT(splits <= kMaxGridYZ, "paged_attention: ", splits, " splits exceed gridDim.z");
  const int64_t needed =
      paged_decode_attention_workspace_bytes(p.num_seqs, p.q_heads, p.head_dim, p.max_context_len, p.split_tokens);
  R1_ASSERT(p.workspace_bytes >= needed, "paged_attention: workspace_bytes = ", p.workspace_bytes, " < ", needed);
  if (p.num_seqs == 0) return;  // an empty batch may come with null data pointers
  const bool bf16 = p.k_pool_bf16 != nullptr;
  R1_ASSERT(p.out != nullptr && p.q != nullptr, "paged_attention: out or q is null");
  R1_ASSERT(bf16 ? (p.v_pool_bf16 != nullptr && p.k_pool == nullptr && p.v_pool == nullptr)
                 : (p.k_pool != nullptr && p.v_pool != nullptr && p.v_pool_bf16 == nullptr),
            "paged_attention: give k_pool and v_pool both as fp32 or both as bf16 (one is null, or they are mixed)");
  R1_ASSERT(p.block_tables != nullptr && p.context_lens != nullptr && p.workspace != nullptr,
            "paged_attention: block_tables, context_lens or workspace is null");

  const dim3 split_grid(static_cast<unsigned int>(p.num_seqs), static_cast<unsigned int>(p.q_heads),
                        static_cast<unsigned int>(splits));
  const size_t shared_bytes = size_t(p.head_dim + p.split_tokens) * sizeof(float);  // <= 20 KiB by the limits
  if (bf16)
    paged_split_kernel<uint16_t><<<split_grid, kThreads, shared_bytes, stream>>>(p, static_cast<int>(splits),
                                                                               p.k_pool_bf16, p.v_pool_bf16);
  else
    paged_split_kernel<float><<<split_grid, kThreads, shared_bytes, stream>>>(p, static_cast<int>(splits), p.k_pool,
                                                                            p.v_pool);
  R1_CUDA_CHECK(cudaGetLastError());
  const dim3 merge_grid(static_cast<unsigned int>(p.num_seqs), static_cast<unsigned int>(p.q_heads));
  paged_merge_kernel<<<merge_grid, kThreads, 0, stream>>>(p, static_cast<int>(splits));
  R1_CUDA_CHECK(cudaGetLastError());
}

}  // namespace r1::rollout::kernels
