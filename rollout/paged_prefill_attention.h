// Attention of query tokens at known positions over a paged KV context, in plain C++ over host
// float arrays: the definition of what rollout/cuda/paged_prefill_attention.cu computes, and the
// reference it is tested against. It serves the steps paged decode attention (paged_attention.h)
// does not: a prefill chunk (many queries of one sequence, each seeing the positions up to its
// own, so the chunk is causal within itself and sees the whole cached prefix), and MLA in the
// absorbed form, prefill and decode alike (a decode step is a chunk of one query per sequence).
//
// Pool layout (paged_kv.h, paged_attention.h): row (block, slot, kv_head) of k_pool holds key_dim
// floats, of v_pool value_stride floats of which the first value_dim are the value.
//   - GQA: separate pools, value_stride = value_dim = key_dim = head_dim.
//   - Absorbed MLA (KvCacheGeometry::shared_kv, rollout/torch_runner.cpp): one pool passed as both,
//     kv_heads 1, a row = [normalised latent (kv_lora_rank) | rotated k_pe (rope dims)], so
//     key_dim = kv_lora_rank + rope, value_stride = key_dim, value_dim = kv_lora_rank. The query
//     of head h is [q_nope_h W_uk_h | q_pe_h]; the output is the latent average, which the caller
//     lifts by W_uv_h (a GEMM).
//
// Decisions:
// - Query i of the batch belongs to sequence query_seqs[i] (its block table row) and sits at
//   position query_positions[i]; it attends to positions 0 .. query_positions[i] of that sequence,
//   whose K/V (its own included) are already in the pool. The mask is the position, so chunks of
//   several sequences, and decode queries, mix freely in one batch.
// - One online softmax per (query, head), keys in position order: per key the score
//   s = (sum_d q_d k_d, d in order) * scale, m' = max(m, s), l = l exp(m - m') + exp(s - m'),
//   o = o exp(m - m') + exp(s - m') v, and out = o / l at the end, in fp32. A query's arithmetic
//   depends on its own position and data only, never on the chunk or batch around it (batch
//   invariance); the kernel differs from this only in the order of the dot product's sum.
// - Bad shapes and inputs throw std::invalid_argument naming the field and the query.
#pragma once

#include <cstdint>
#include <vector>

namespace r1::rollout {

struct PagedPrefillGeometry {
  int64_t q_heads = 0;       // a multiple of kv_heads
  int64_t kv_heads = 0;
  int64_t key_dim = 0;       // q.k length
  int64_t value_dim = 0;     // output floats per head, <= value_stride
  int64_t value_stride = 0;  // floats per (slot, kv_head) row of v_pool
  int64_t block_tokens = 0;
  int64_t num_blocks = 0;
  int64_t max_blocks = 0;    // the stride of block_tables

  // std::invalid_argument naming the field: a non-positive field, q_heads not a multiple of
  // kv_heads, or value_dim > value_stride.
  void validate() const;
};

struct PagedPrefillInputs {
  const std::vector<float>& q;                    // [queries][q_heads][key_dim]
  const std::vector<float>& k_pool;               // [num_blocks][block_tokens][kv_heads][key_dim]
  const std::vector<float>& v_pool;               // [num_blocks][block_tokens][kv_heads][value_stride]; may be k_pool
  const std::vector<int32_t>& block_tables;       // [seqs][max_blocks]
  const std::vector<int32_t>& query_seqs;         // [queries] a row of block_tables
  const std::vector<int32_t>& query_positions;    // [queries] in [0, max_blocks * block_tokens)
};

// out: [queries][q_heads][value_dim]. Validates the geometry, the sizes of every array, scale
// (finite, > 0), each query's sequence and position, and each block id read.
std::vector<float> paged_prefill_attention_reference(const PagedPrefillInputs& inputs,
                                                     const PagedPrefillGeometry& geometry, float scale);

}  // namespace r1::rollout
