// rollout/cuda paged prefill attention against its CPU reference (paged_prefill_attention_reference
// in rollout/paged_prefill_attention.h): GQA chunks of several sequences mixed with decode queries,
// absorbed MLA at DeepSeek-V3's sizes (a shared latent pool, value = the first 512 floats of a
// 576-float row), bitwise batch invariance, and NaN rows for bad device data. Validation runs
// without a device.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/error.h"
#include "rollout/bf16.h"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/paged_prefill_attention.h"
#include "rollout/paged_prefill_attention.h"
#include "tests/gpu/cuda_test_support.h"
#include "tests/rollout/paged_attention_batch.h"

using namespace r1::rollout;
using namespace r1::rollout::kernels;
using namespace r1::paged_attention_test;
using r1::gpu_test::DeviceArray;

namespace {

// A batch of queries over a pool: `lens` sequences; sequence s contributes queries at positions
// chunk_begin[s] .. lens[s] - 1 (a chunk; a decode query when it is one position).
struct QueryBatch {
  PagedBatch pool;
  PagedPrefillGeometry geometry;
  std::vector<float> q;
  std::vector<int32_t> seqs, positions;
  bool shared = false;  // MLA: v_pool is k_pool

  PagedPrefillInputs inputs() const {
    return {q, pool.k_pool, shared ? pool.k_pool : pool.v_pool, pool.block_tables, seqs, positions};
  }
};

QueryBatch query_batch(int64_t q_heads, int64_t kv_heads, int64_t key_dim, int64_t value_dim, bool shared,
                       const std::vector<int64_t>& lens, const std::vector<int64_t>& chunk_begin, uint32_t seed) {
  const PagedAttentionGeometry shape{kv_heads, kv_heads, key_dim, 16, 0, 64};
  QueryBatch b;
  b.pool = paged_batch(shape, {}, random_contexts(lens, kv_heads, key_dim, seed), true, seed + 1, 5);
  b.shared = shared;
  b.geometry = {q_heads, kv_heads, key_dim, value_dim, shared ? key_dim : value_dim, 16, b.pool.geometry.num_blocks, 64};
  for (size_t s = 0; s < lens.size(); ++s)
    for (int64_t p = chunk_begin[s]; p < lens[s]; ++p) {
      b.seqs.push_back(int32_t(s));
      b.positions.push_back(int32_t(p));
    }
  b.q = uniform_floats(b.seqs.size() * size_t(q_heads * key_dim), -1.0f, 1.0f, seed + 2);
  return b;
}

std::vector<float> attend_on_device(const QueryBatch& b, float scale, bool bf16_pools = false,
                                    std::vector<uint16_t>* out_bf16 = nullptr) {
  const auto& g = b.geometry;
  DeviceArray<float> q(b.q), k(b.pool.k_pool), v(b.shared ? std::vector<float>{0.0f} : b.pool.v_pool);
  DeviceArray<uint16_t> k_bf16(bf16_bits(b.pool.k_pool)), v_bf16(bf16_bits(b.shared ? std::vector<float>{0.0f} : b.pool.v_pool));
  DeviceArray<float> out(b.seqs.size() * size_t(g.q_heads * g.value_dim));
  DeviceArray<int32_t> tables(b.pool.block_tables), seqs(b.seqs), positions(b.positions);
  PagedPrefillAttentionParams p{out.get(), q.get(), k.get(), b.shared ? k.get() : v.get(), tables.get(), seqs.get(),
                                positions.get(), int64_t(b.seqs.size()),
                                int64_t(b.pool.block_tables.size()) / g.max_blocks, g.num_blocks, int32_t(g.q_heads),
                                int32_t(g.kv_heads), int32_t(g.key_dim), int32_t(g.value_dim), int32_t(g.value_stride),
                                int32_t(g.block_tokens), int32_t(g.max_blocks), scale};
  DeviceArray<uint16_t> out16(b.seqs.size() * size_t(g.q_heads * g.value_dim));
  p.out_bf16 = out_bf16 != nullptr ? out16.get() : nullptr;
  if (bf16_pools) {
    p.k_pool = p.v_pool = nullptr;
    p.k_pool_bf16 = k_bf16.get();
    p.v_pool_bf16 = b.shared ? k_bf16.get() : v_bf16.get();
  }
  paged_prefill_attention_forward(p, nullptr);
  R1_CUDA_CHECK(cudaDeviceSynchronize());
  if (out_bf16 != nullptr) *out_bf16 = out16.to_host();
  return out.to_host();
}

std::vector<float> rows(const std::vector<float>& out, int64_t first, int64_t count, int64_t per_query) {
  return {out.begin() + first * per_query, out.begin() + (first + count) * per_query};
}

}  // namespace

TEST_CASE("prefill attention kernel: parameter validation (no device needed)") {
  PagedPrefillAttentionParams ok{};
  ok.tokens = 3;
  ok.num_seqs = 1;
  ok.num_blocks = 4;
  ok.q_heads = 8;
  ok.kv_heads = 2;
  ok.key_dim = 64;
  ok.value_dim = 64;
  ok.value_stride = 64;
  ok.block_tokens = 16;
  ok.max_blocks = 4;
  ok.scale = 0.125f;
  auto refused = [&](const char* what, auto mutate) {
    PagedPrefillAttentionParams p = ok;
    mutate(p);
    CHECK_THROWS_WITH_AS(paged_prefill_attention_forward(p, nullptr), doctest::Contains(what), r1::InternalError);
  };
  refused("q_heads = 6 must be a multiple", [](auto& p) { p.q_heads = 6; p.kv_heads = 4; });
  refused("key_dim = 1025", [](auto& p) { p.key_dim = kPrefillMaxKeyDim + 1; });
  refused("value_dim = 513", [](auto& p) { p.value_dim = kPrefillMaxValueDim + 1; p.value_stride = 600; });
  refused("value_dim = 65", [](auto& p) { p.value_dim = 65; });  // > value_stride
  refused("scale = ", [](auto& p) { p.scale = NAN; });
  refused("out or q is null", [](auto&) {});
  r1::gpu_test::check_pool_refusals(refused);
  PagedPrefillAttentionParams empty = ok;
  empty.tokens = 0;
  paged_prefill_attention_forward(empty, nullptr);  // nothing to launch, null pointers allowed
}

TEST_CASE("prefill attention kernel equals the CPU reference: GQA chunks with decode queries, and absorbed MLA") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  // Qwen2.5-0.5B's heads (14 q, 2 kv, 64 dims): a 128-token prompt, a chunk after a cached prefix,
  // two decode queries.
  const QueryBatch gqa = query_batch(14, 2, 64, 64, false, {128, 300, 41, 1}, {0, 256, 40, 0}, 1);
  std::vector<uint16_t> gqa_bf16;
  const auto gqa_out = attend_on_device(gqa, 0.125f, false, &gqa_bf16);
  CHECK(max_abs_diff(gqa_out, paged_prefill_attention_reference(gqa.inputs(), gqa.geometry, 0.125f)) < 1e-5);
  CHECK(r1::gpu_test::is_bf16_rounding_of(gqa_bf16, gqa_out));  // the o GEMM's input: the output, rounded where it is made
  // DeepSeek-V3's absorbed MLA: 16 heads here (128 in the model), rows of 512 latent + 64 rope.
  const QueryBatch mla = query_batch(16, 1, 576, 512, true, {70, 200}, {0, 199}, 2);
  const float scale = 1.0f / std::sqrt(192.0f);
  CHECK(max_abs_diff(attend_on_device(mla, scale), paged_prefill_attention_reference(mla.inputs(), mla.geometry, scale)) <
        1e-5);
}

TEST_CASE("prefill attention kernel: a query's result is the same bits alone and in a batch") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  const QueryBatch crowd = query_batch(8, 2, 128, 128, false, {500, 37, 260}, {480, 0, 259}, 3);
  const auto all = attend_on_device(crowd, 0.088f);
  CHECK(attend_on_device(crowd, 0.088f) == all);  // run to run
  // The first 20 queries (sequence 0's chunk) alone, in the same pool.
  QueryBatch alone = crowd;
  alone.seqs.resize(20);
  alone.positions.resize(20);
  alone.q.resize(20 * 8 * 128);
  CHECK(attend_on_device(alone, 0.088f) == rows(all, 0, 20, 8 * 128));
}

TEST_CASE("prefill attention kernel: bad sequence, position or block gives NaN rows for that query only") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  QueryBatch b = query_batch(4, 2, 32, 32, false, {40, 40}, {36, 36}, 4);  // 8 queries
  const auto want = paged_prefill_attention_reference(b.inputs(), b.geometry, 0.2f);
  b.seqs[1] = 2;                                                      // no such sequence
  b.positions[2] = 64 * 16;                                           // past the table
  b.pool.block_tables[1 * 64 + 1] = int32_t(b.geometry.num_blocks);  // sequence 1's second block
  const auto out = attend_on_device(b, 0.2f);
  const int64_t per = 4 * 32;
  CHECK(max_abs_diff(rows(out, 0, 1, per), rows(want, 0, 1, per)) < 1e-5);
  CHECK(max_abs_diff(rows(out, 3, 1, per), rows(want, 3, 1, per)) < 1e-5);
  for (const int64_t bad : {1, 2, 4, 5, 6, 7}) {  // 4..7 read sequence 1's second block
    CAPTURE(bad);
    const auto r = rows(out, bad, 1, per);
    CHECK(std::all_of(r.begin(), r.end(), [](float x) { return std::isnan(x); }));
  }
}

TEST_CASE("prefill attention kernel: bf16 pools give the fp32 kernel's bits on the widened values (GQA and MLA)") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  for (bool shared : {false, true}) {
    CAPTURE(shared);
    QueryBatch b = shared ? query_batch(16, 1, 576, 512, true, {40, 7}, {30, 6}, 31)
                          : query_batch(8, 2, 64, 64, false, {50, 9}, {20, 8}, 32);
    bf16_round_in_place(b.pool.k_pool);
    bf16_round_in_place(b.pool.v_pool);
    CHECK(attend_on_device(b, 0.1f, /*bf16_pools=*/true) == attend_on_device(b, 0.1f));
  }
}
