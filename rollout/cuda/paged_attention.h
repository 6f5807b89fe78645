// Paged decode attention on the GPU (split-KV, GQA): the launcher, its parameters and its
// workspace. What it computes — pool layout, fixed-size splits, the log-sum-exp merge in split
// order — is paged_decode_attention_reference() in rollout/paged_attention.h, its reference.
// fp32 in and out; the K/V pools fp32, or bf16 (k_pool_bf16 / v_pool_bf16 instead: each value
// widened exactly, so the result is the fp32 kernel's on the widened pools).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace r1::rollout::kernels {

// A split's scores live in shared memory beside the query: (head_dim + split_tokens) floats.
constexpr int32_t kPagedAttentionMaxSplitTokens = 4096;
constexpr int32_t kPagedAttentionMaxHeadDim = 1024;

// Every array is dense and row-major, on the device.
struct PagedDecodeAttentionParams {
  float* out;                   // [num_seqs, q_heads, head_dim]
  const float* q;               // [num_seqs, q_heads, head_dim] one query token per sequence
  const float* k_pool;          // [num_blocks, block_tokens, kv_heads, head_dim] one layer's K
  const float* v_pool;          // same layout, that layer's V
  const int32_t* block_tables;  // [num_seqs, max_blocks]
  const int32_t* context_lens;  // [num_seqs], each in [1, max_context_len]
  float* workspace;             // per-split max, sum and output; see the workspace function
  int64_t workspace_bytes;      // its size, checked against what the launch needs
  int64_t num_seqs;             // 0 launches nothing
  int64_t num_blocks;           // blocks in the pool: a table entry outside [0, num_blocks) is not read
  int32_t q_heads;              // a multiple of kv_heads, <= 65535 (gridDim.y)
  int32_t kv_heads;
  int32_t head_dim;             // in [1, kPagedAttentionMaxHeadDim]
  int32_t block_tokens;         // positions per KV block
  int32_t max_blocks;           // the stride of block_tables
  // A bound on every context length of the batch, <= max_blocks * block_tokens: it sizes the
  // grid's split dimension and the workspace, never the math (splits have a fixed size).
  int32_t max_context_len;
  int32_t split_tokens;         // a multiple of block_tokens, <= kPagedAttentionMaxSplitTokens
  float scale;                  // finite, > 0 (1 / sqrt(head_dim) for the policy's GQA)
  const uint16_t* k_pool_bf16 = nullptr;  // bf16 bits, with k_pool and v_pool null
  const uint16_t* v_pool_bf16 = nullptr;
  uint16_t* out_bf16 = nullptr;           // or null: out also as bf16 bits (the o GEMM's input)
};

// Bytes of workspace a launch with these sizes needs: for each (sequence, q head, split) of
// ceil(max_context_len / split_tokens) splits, a max, a sum and head_dim outputs, in fp32. The
// engine allocates it once for its largest batch and context.
int64_t paged_decode_attention_workspace_bytes(int64_t num_seqs, int32_t q_heads, int32_t head_dim,
                                               int32_t max_context_len, int32_t split_tokens);

// Validates `params` (r1::InternalError on a bad one), then launches the split kernel and the
// merge kernel on `stream`, asynchronously. Device data cannot be checked from here: a sequence
// whose context length is outside [1, max_context_len], or whose table names a block outside
// [0, num_blocks), gets NaN rows (no read outside the pool), and the others are unaffected.
void paged_decode_attention_forward(const PagedDecodeAttentionParams& params, cudaStream_t stream);

}  // namespace r1::rollout::kernels
