// Paged decode attention for grouped-query attention, in plain C++ over host float arrays: the
// definition of what rollout/cuda/paged_attention.cu computes, and the reference it is tested
// against. One query token per sequence (a decode step) attends over that sequence's cached K/V,
// found through its block table (rollout/paged_kv.h). The numerics are the policy's attention
// (causal_attention in policy/transformer.cpp): kv head = q_head / (q_heads / kv_heads), scores
// q.k * scale, softmax in fp32.
//
// KV pool layout, one pair (K, V) per layer, the engine keeps `layers` such pairs:
//   k_pool[block][slot][kv_head][d], v_pool likewise: [num_blocks][block_tokens][kv_heads][head_dim]
//   Token position p of sequence s lives at block = block_tables[s * max_blocks + p / block_tokens],
//   slot = p % block_tokens. A block id addresses the same positions in every layer's pair (paged_kv.h).
//   A token's heads are adjacent, so one token's K for all heads is one contiguous run: the write of
//   a new token (one slot, all heads) is one copy, and a block is block_tokens such runs.
//
// Decisions:
// - Split-KV with a fixed split size: the context is cut into chunks of `split_tokens` positions
//   (chunk c covers [c * split_tokens, min((c + 1) * split_tokens, context_len))), not into a fixed
//   number of chunks. A sequence's chunks, hence its rounding, then depend on its own length only,
//   never on the batch it runs in or the longest sequence beside it (batch invariance: a sample's
//   logprobs do not change with what else the scheduler packed into the step).
// - split_tokens is a positive multiple of block_tokens, so a chunk never cuts a block: a kernel
//   block walks whole KV blocks, one table lookup per block.
// - Per chunk, in fp32: the max score m, the sum of exp(score - m) l, and the chunk's own
//   attention output o = sum_t exp(score_t - m) v_t / l. Scores are (sum_d q_d k_d) * scale,
//   summed over d in order; tokens are taken in position order.
// - Merge by log-sum-exp in chunk order: M = max_c m_c, w_c = l_c * exp(m_c - M),
//   out = (sum_c w_c o_c) / (sum_c w_c), each sum taken over c = 0, 1, ... in order. The kernel
//   merges the same way, so the two differ only by the rounding of exp and of the dot products.
// - fp32 in, out and accumulation. (bf16 K/V may come later; the math would stay fp32.)
// - context_len >= 1: the decode step writes the new token's K/V before attending, so a query
//   always sees at least itself (an empty softmax has no value).
// - Only the first ceil(context_len / block_tokens) entries of a sequence's table row are read and
//   checked; the rest may hold anything (-1 padding).
// - Bad shapes and inputs throw std::invalid_argument naming the field.
#pragma once

#include <cstdint>
#include <vector>

namespace r1::rollout {

struct PagedAttentionGeometry {
  int64_t q_heads = 0;       // query heads; a multiple of kv_heads
  int64_t kv_heads = 0;      // K/V heads; each serves q_heads / kv_heads query heads
  int64_t head_dim = 0;
  int64_t block_tokens = 0;  // positions per KV block, as PagedKvCache::block_tokens()
  int64_t num_blocks = 0;    // blocks in the pool
  int64_t max_blocks = 0;    // the stride of block_tables: the most blocks one sequence may hold

  // std::invalid_argument naming the field: a non-positive field, or q_heads not a multiple of
  // kv_heads.
  void validate() const;
  // Floats in one of k_pool / v_pool: num_blocks * block_tokens * kv_heads * head_dim.
  int64_t pool_floats() const;
};

// The inputs of one layer's decode attention for a batch of context_lens.size() sequences.
struct PagedAttentionInputs {
  const std::vector<float>& q;               // [seqs][q_heads][head_dim]
  const std::vector<float>& k_pool;          // [num_blocks][block_tokens][kv_heads][head_dim]
  const std::vector<float>& v_pool;          // same layout as k_pool
  const std::vector<int32_t>& block_tables;  // [seqs][max_blocks]
  const std::vector<int32_t>& context_lens;  // [seqs], each in [1, max_blocks * block_tokens]
};

// The split-KV algorithm above: out[seqs][q_heads][head_dim]. Validates the geometry, the sizes of
// every array, scale (finite, > 0), split_tokens (a positive multiple of block_tokens), each
// context length and each block id read (in [0, num_blocks)).
std::vector<float> paged_decode_attention_reference(const PagedAttentionInputs& inputs,
                                                    const PagedAttentionGeometry& geometry, float scale,
                                                    int64_t split_tokens);

// One softmax over the whole context (max, sum of exp, weighted sum of V), no splits: what the
// split version must equal up to rounding. Same validation, less split_tokens.
std::vector<float> dense_decode_attention(const PagedAttentionInputs& inputs, const PagedAttentionGeometry& geometry,
                                          float scale);

}  // namespace r1::rollout
