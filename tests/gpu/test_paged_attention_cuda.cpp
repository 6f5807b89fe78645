// rollout/cuda paged decode attention against its CPU reference (paged_decode_attention_reference in
// rollout/paged_attention.h): within 1e-5 on random data through shuffled block tables, bitwise
// batch invariance and determinism on the device, NaN rows (and only those) for bad device data.
// Validation and the workspace size run without a device; the GPU cases pass, saying they
// skipped, where there is none.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/error.h"
#include "rollout/bf16.h"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/paged_attention.h"
#include "rollout/paged_attention.h"
#include "tests/gpu/cuda_test_support.h"
#include "tests/rollout/paged_attention_batch.h"

using namespace r1::rollout;
using namespace r1::rollout::kernels;
using namespace r1::paged_attention_test;
using r1::gpu_test::DeviceArray;

namespace {

PagedBatch random_batch(int64_t q_heads, int64_t kv_heads, int64_t head_dim, int64_t block_tokens,
                        int64_t max_blocks, const std::vector<int64_t>& lens, uint32_t seed) {
  const PagedAttentionGeometry g{q_heads, kv_heads, head_dim, block_tokens, 0, max_blocks};
  auto q = uniform_floats(lens.size() * size_t(q_heads * head_dim), -2.0f, 2.0f, seed);
  return paged_batch(g, std::move(q), random_contexts(lens, kv_heads, head_dim, seed + 100), /*shuffle=*/true,
                     seed + 7);
}

PagedDecodeAttentionParams params_for(const PagedBatch& b, float scale, int32_t split_tokens, int32_t max_context_len) {
  const auto& g = b.geometry;
  PagedDecodeAttentionParams p{};
  p.num_seqs = int64_t(b.context_lens.size());
  p.num_blocks = g.num_blocks;
  p.q_heads = int32_t(g.q_heads);
  p.kv_heads = int32_t(g.kv_heads);
  p.head_dim = int32_t(g.head_dim);
  p.block_tokens = int32_t(g.block_tokens);
  p.max_blocks = int32_t(g.max_blocks);
  p.max_context_len = max_context_len;
  p.split_tokens = split_tokens;
  p.scale = scale;
  return p;
}

// The kernel's output for `b`; max_context_len defaults to the batch's longest context.
std::vector<float> attend_on_device(const PagedBatch& b, float scale, int32_t split_tokens,
                                    int32_t max_context_len = 0, bool bf16_pools = false,
                                    std::vector<uint16_t>* out_bf16 = nullptr) {
  if (max_context_len == 0) max_context_len = *std::max_element(b.context_lens.begin(), b.context_lens.end());
  PagedDecodeAttentionParams p = params_for(b, scale, split_tokens, max_context_len);
  p.workspace_bytes =
      paged_decode_attention_workspace_bytes(p.num_seqs, p.q_heads, p.head_dim, max_context_len, split_tokens);
  DeviceArray<float> q(b.q), k(b.k_pool), v(b.v_pool), out(b.q.size());
  DeviceArray<uint16_t> k_bf16(bf16_bits(b.k_pool)), v_bf16(bf16_bits(b.v_pool));
  DeviceArray<float> workspace(size_t(p.workspace_bytes) / sizeof(float));
  DeviceArray<int32_t> tables(b.block_tables), lens(b.context_lens);
  DeviceArray<uint16_t> out16(b.q.size());
  p.out = out.get();
  p.out_bf16 = out_bf16 != nullptr ? out16.get() : nullptr;
  p.q = q.get();
  p.k_pool = bf16_pools ? nullptr : k.get();
  p.v_pool = bf16_pools ? nullptr : v.get();
  p.k_pool_bf16 = bf16_pools ? k_bf16.get() : nullptr;
  p.v_pool_bf16 = bf16_pools ? v_bf16.get() : nullptr;
  p.block_tables = tables.get();
  p.context_lens = lens.get();
  p.workspace = workspace.get();
  paged_decode_attention_forward(p, nullptr);
  R1_CUDA_CHECK(cudaDeviceSynchronize());
  if (out_bf16 != nullptr) *out_bf16 = out16.to_host();
  return out.to_host();
}

bool all_nan(const std::vector<float>& values) {
  return std::all_of(values.begin(), values.end(), [](float x) { return std::isnan(x); });
}

}  // namespace

TEST_CASE("paged attention kernel: workspace size and parameter validation (no device needed)") {
  // 3 sequences x 4 heads x ceil(100 / 32) = 4 splits, each a max, a sum and 64 outputs.
  CHECK(paged_decode_attention_workspace_bytes(3, 4, 64, 100, 32) == 3 * 4 * 4 * (2 + 64) * 4);
  CHECK(paged_decode_attention_workspace_bytes(0, 4, 64, 100, 32) == 0);

  const PagedBatch b = random_batch(4, 2, 8, 4, 8, {5, 9}, 1);
  // The pointers stay null: the shape checks come first, and each refusal names its own field.
  auto refused = [&](const char* what, auto mutate) {
    PagedDecodeAttentionParams p = params_for(b, 0.5f, 8, 9);
    p.workspace_bytes = 1 << 20;
    mutate(p);
    CHECK_THROWS_WITH_AS(paged_decode_attention_forward(p, nullptr), doctest::Contains(what), r1::InternalError);
  };
  refused("q_heads = 3", [](auto& p) { p.q_heads = 3; });  // not a multiple of kv_heads
  refused("split_tokens = 6", [](auto& p) { p.split_tokens = 6; });  // not a multiple of block_tokens
  refused("split_tokens = 4100", [](auto& p) { p.split_tokens = kPagedAttentionMaxSplitTokens + 4; });
  refused("head_dim = 1025", [](auto& p) { p.head_dim = kPagedAttentionMaxHeadDim + 1; });
  refused("max_context_len = 33", [](auto& p) { p.max_context_len = 8 * 4 + 1; });  // > max_blocks * block_tokens
  refused("scale = 0", [](auto& p) { p.scale = 0.0f; });
  refused("workspace_bytes = 4", [](auto& p) { p.workspace_bytes = 4; });
  refused("out or q is null", [](auto&) {});
  r1::gpu_test::check_pool_refusals(refused);  // num_seqs = 2: the pointers are needed
}

TEST_CASE("paged attention kernel equals the CPU reference within 1e-5") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  struct Case {
    int64_t q_heads, kv_heads, head_dim, block_tokens;
  };
  // GQA at the policy's head_dim 128; MQA; MHA at a head_dim that is no multiple of the warp.
  for (const Case c : {Case{8, 2, 128, 16}, Case{4, 1, 64, 8}, Case{6, 6, 80, 16}}) {
    const std::vector<int64_t> lens = {1, 15, 16, 17, 100, 511, 512, 513, 1024};
    const PagedBatch b = random_batch(c.q_heads, c.kv_heads, c.head_dim, c.block_tokens, 1024 / c.block_tokens,
                                      lens, uint32_t(c.head_dim));
    const float scale = 1.0f / std::sqrt(float(c.head_dim));
    for (const int32_t split : {16, 64, 256, 512}) {
      CAPTURE(c.head_dim);
      CAPTURE(split);
      const auto want = paged_decode_attention_reference(b.inputs(), b.geometry, scale, split);
      std::vector<uint16_t> got_bf16;
      const auto got = attend_on_device(b, scale, split, 0, false, &got_bf16);
      CHECK(max_abs_diff(got, want) < 1e-5);
      CHECK(r1::gpu_test::is_bf16_rounding_of(got_bf16, got));  // the o GEMM's input: the output, rounded where it is made
    }
  }
}

TEST_CASE("paged attention kernel: a sequence's result is the same bits in any batch, run after run") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  const PagedAttentionGeometry g{8, 2, 128, 16, 0, 128};
  const float scale = 1.0f / std::sqrt(128.0f);
  const auto q = uniform_floats(size_t(g.q_heads * g.head_dim), -2.0f, 2.0f, 201);
  const auto mine = random_contexts({300}, g.kv_heads, g.head_dim, 202)[0];
  const PagedBatch alone = paged_batch(g, q, {mine}, true, 203);
  const auto want = attend_on_device(alone, scale, 64);
  CHECK(attend_on_device(alone, scale, 64) == want);                    // deterministic
  CHECK(attend_on_device(alone, scale, 64, /*max_context_len=*/2048) == want);  // a larger grid and workspace

  // Third in a batch of longer and shorter sequences, in other blocks of a bigger pool.
  const auto others = random_contexts({2000, 7, 1100}, g.kv_heads, g.head_dim, 204);
  auto q4 = uniform_floats(size_t(4 * g.q_heads * g.head_dim), -2.0f, 2.0f, 205);
  std::copy(q.begin(), q.end(), q4.begin() + 2 * g.q_heads * g.head_dim);
  const PagedBatch mixed = paged_batch(g, q4, {others[0], others[1], mine, others[2]}, true, 206, 17);
  CHECK(rows_of(attend_on_device(mixed, scale, 64), g, 2) == want);
  CHECK(max_abs_diff(want, paged_decode_attention_reference(alone.inputs(), alone.geometry, scale, 64)) < 1e-5);
}

TEST_CASE("paged attention kernel: a bad length or block id gives NaN rows for that sequence only") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  PagedBatch b = random_batch(4, 2, 64, 16, 8, {40, 40, 40, 40}, 301);
  const auto want = paged_decode_attention_reference(b.inputs(), b.geometry, 0.125f, 32);
  b.context_lens[1] = 0;
  b.context_lens[2] = 41;                                  // beyond max_context_len = 40
  b.block_tables[3 * 8 + 1] = int32_t(b.geometry.num_blocks);  // sequence 3's second block
  const auto out = attend_on_device(b, 0.125f, 32, /*max_context_len=*/40);
  CHECK(max_abs_diff(rows_of(out, b.geometry, 0), rows_of(want, b.geometry, 0)) < 1e-5);
  for (const int64_t bad : {1, 2, 3}) {
    CAPTURE(bad);
    CHECK(all_nan(rows_of(out, b.geometry, bad)));
  }
}

TEST_CASE("paged attention kernel: bf16 pools give the fp32 kernel's bits on the widened values") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  PagedBatch b = random_batch(8, 2, 64, 16, 12, {1, 37, 150, 64}, 21);
  bf16_round_in_place(b.k_pool);  // exactly representable: the two kernels read the same numbers
  bf16_round_in_place(b.v_pool);
  CHECK(attend_on_device(b, 0.125f, 32, 0, /*bf16_pools=*/true) == attend_on_device(b, 0.125f, 32));
}
