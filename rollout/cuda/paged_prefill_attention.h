// Attention of query tokens at known positions over the paged KV cache, on the GPU: prefill chunks
// (GQA) and absorbed MLA, prefill and decode. What it computes — each query sees its sequence's
// positions up to its own, one online softmax in position order, values the first value_dim floats
// of each value row — is paged_prefill_attention_reference() in rollout/paged_prefill_attention.h,
// its reference, which also says how absorbed MLA maps onto it. fp32 in, out and accumulation.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace r1::rollout::kernels {

// A warp keeps its query and its output in registers: key_dim / 32 and value_dim / 32 per lane.
constexpr int32_t kPrefillMaxKeyDim = 1024;   // DeepSeek's absorbed key is 512 + 64
constexpr int32_t kPrefillMaxValueDim = 512;  // DeepSeek's kv_lora_rank

// Every array is dense and row-major, on the device.
struct PagedPrefillAttentionParams {
  float* out;                      // [tokens, q_heads, value_dim]
  const float* q;                  // [tokens, q_heads, key_dim]
  const float* k_pool;             // [num_blocks, block_tokens, kv_heads, key_dim]
  const float* v_pool;             // [num_blocks, block_tokens, kv_heads, value_stride]; may be k_pool
  const int32_t* block_tables;     // [num_seqs, max_blocks]
  const int32_t* query_seqs;       // [tokens] a row of block_tables
  const int32_t* query_positions;  // [tokens]
  int64_t tokens;                  // queries; 0 launches nothing
  int64_t num_seqs;                // rows of block_tables
  int64_t num_blocks;              // a table entry outside [0, num_blocks) is not read
  int32_t q_heads;                 // a multiple of kv_heads
  int32_t kv_heads;
  int32_t key_dim;                 // in [1, kPrefillMaxKeyDim]
  int32_t value_dim;               // in [1, kPrefillMaxValueDim], <= value_stride
  int32_t value_stride;
  int32_t block_tokens;
  int32_t max_blocks;
  float scale;                     // finite, > 0
  const uint16_t* k_pool_bf16 = nullptr;  // bf16 pools (bits; widened exactly), with k_pool, v_pool null
  const uint16_t* v_pool_bf16 = nullptr;  // may be k_pool_bf16 (MLA)
  uint16_t* out_bf16 = nullptr;           // or null: out also as bf16 bits (the next GEMM's input)
};

// Validates `params` (r1::InternalError on a bad one), then launches on `stream`, asynchronously.
// A query whose sequence or position is out of range, or whose table names a block outside the
// pool, gets NaN rows (nothing outside the pool is read); the other queries are unaffected.
void paged_prefill_attention_forward(const PagedPrefillAttentionParams& params, cudaStream_t stream);

}  // namespace r1::rollout::kernels
