// Test batches for paged decode attention (rollout/paged_attention.h), shared by the CPU test
// (tests/rollout) and the GPU test (tests/gpu): random per-sequence K/V laid into a pool through
// contiguous or shuffled block tables. Every pool position no sequence owns holds NaN, so that a
// read outside a sequence's context (the tail of its last block, a spare block) spoils the result
// instead of passing unseen. Header only: the GPU test compiles without r1_rollout.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "rollout/paged_attention.h"
#include "tests/float_compare.h"
#include "tests/random_values.h"

namespace r1::paged_attention_test {

using r1::rollout::PagedAttentionGeometry;
using r1::rollout::PagedAttentionInputs;

using r1::test::uniform_floats;

// One sequence's K and V, dense: [len][kv_heads][head_dim].
struct DenseContext {
  int64_t len = 0;
  std::vector<float> k, v;
};

inline std::vector<DenseContext> random_contexts(const std::vector<int64_t>& lens, int64_t kv_heads, int64_t head_dim,
                                                 uint32_t seed) {
  std::vector<DenseContext> contexts;
  for (const int64_t len : lens) {
    const auto count = static_cast<size_t>(len * kv_heads * head_dim);
    contexts.push_back({len, uniform_floats(count, -1.0f, 1.0f, seed), uniform_floats(count, -1.0f, 1.0f, seed + 1)});
    seed += 2;
  }
  return contexts;
}

struct PagedBatch {
  PagedAttentionGeometry geometry;
  std::vector<float> q, k_pool, v_pool;
  std::vector<int32_t> block_tables, context_lens;

  PagedAttentionInputs inputs() const { return {q, k_pool, v_pool, block_tables, context_lens}; }
};

// Lays `contexts` into a pool of exactly the blocks they need plus `spare` unused ones. Block ids
// are handed out in order, or in a random order (seeded) when `shuffle`, so that a sequence's
// blocks are neither adjacent nor ascending. q: [seqs][q_heads][head_dim]. max_blocks, q_heads,
// kv_heads, head_dim and block_tokens come from `shape`; num_blocks is set here.
inline PagedBatch paged_batch(PagedAttentionGeometry shape, std::vector<float> q,
                              const std::vector<DenseContext>& contexts, bool shuffle, uint32_t seed,
                              int64_t spare = 3) {
  const int64_t bt = shape.block_tokens, row = shape.kv_heads * shape.head_dim;
  int64_t needed = 0;
  for (const auto& c : contexts) needed += (c.len + bt - 1) / bt;
  shape.num_blocks = needed + spare;
  std::vector<int32_t> ids(static_cast<size_t>(shape.num_blocks));
  std::iota(ids.begin(), ids.end(), 0);
  if (shuffle) std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));

  PagedBatch batch;
  batch.geometry = shape;
  batch.q = std::move(q);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  batch.k_pool.assign(static_cast<size_t>(shape.pool_floats()), nan);
  batch.v_pool.assign(static_cast<size_t>(shape.pool_floats()), nan);
  batch.block_tables.assign(contexts.size() * static_cast<size_t>(shape.max_blocks), -1);
  size_t next = 0;
  for (size_t s = 0; s < contexts.size(); ++s) {
    const DenseContext& c = contexts[s];
    batch.context_lens.push_back(static_cast<int32_t>(c.len));
    for (int64_t b = 0; b < (c.len + bt - 1) / bt; ++b) batch.block_tables[s * shape.max_blocks + b] = ids[next++];
    for (int64_t p = 0; p < c.len; ++p) {
      const int64_t block = batch.block_tables[s * shape.max_blocks + p / bt];
      const int64_t at = (block * bt + p % bt) * row;
      std::copy_n(c.k.begin() + p * row, row, batch.k_pool.begin() + at);
      std::copy_n(c.v.begin() + p * row, row, batch.v_pool.begin() + at);
    }
  }
  return batch;
}

// The rows of `out` ([seqs][q_heads][head_dim]) that belong to sequence `seq`.
inline std::vector<float> rows_of(const std::vector<float>& out, const PagedAttentionGeometry& g, int64_t seq) {
  const int64_t per_seq = g.q_heads * g.head_dim;
  return {out.begin() + seq * per_seq, out.begin() + (seq + 1) * per_seq};
}

using r1::test::max_abs_diff;  // tests/float_compare.h

}  // namespace r1::paged_attention_test
