// Paged decode attention's reference (rollout/paged_attention.h): a hand-worked case, the split-KV
// merge against one dense softmax over many lengths and split sizes, shuffled block tables against
// contiguous ones, GRPO-forked sequences sharing prompt blocks through the real PagedKvCache,
// LibTorch attention over the gathered K/V, batch invariance, and the errors.
#include "tests/doctest_torch.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "rollout/paged_attention.h"
#include "rollout/paged_kv.h"
#include "tests/rollout/paged_attention_batch.h"

using namespace r1::rollout;
using namespace r1::paged_attention_test;

namespace {

PagedAttentionGeometry shape(int64_t q_heads, int64_t kv_heads, int64_t head_dim, int64_t block_tokens,
                             int64_t max_blocks) {
  return {q_heads, kv_heads, head_dim, block_tokens, /*num_blocks=*/0, max_blocks};
}

PagedBatch random_batch(const PagedAttentionGeometry& g, const std::vector<int64_t>& lens, bool shuffle,
                        uint32_t seed, float q_range = 3.0f) {
  auto q = uniform_floats(lens.size() * size_t(g.q_heads * g.head_dim), -q_range, q_range, seed);
  return paged_batch(g, std::move(q), random_contexts(lens, g.kv_heads, g.head_dim, seed + 100), shuffle, seed + 7);
}

// LibTorch's attention for one sequence, as the policy computes it: K/V heads repeated for GQA,
// softmax(q k^T * scale) v in fp32. Returns [q_heads * head_dim].
std::vector<float> torch_attention(const DenseContext& c, const float* q, const PagedAttentionGeometry& g,
                                   float scale) {
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  auto qt = torch::from_blob(const_cast<float*>(q), {g.q_heads, 1, g.head_dim}, opts).clone();
  auto k = torch::from_blob(const_cast<float*>(c.k.data()), {c.len, g.kv_heads, g.head_dim}, opts).clone();
  auto v = torch::from_blob(const_cast<float*>(c.v.data()), {c.len, g.kv_heads, g.head_dim}, opts).clone();
  const int64_t group = g.q_heads / g.kv_heads;
  k = k.permute({1, 0, 2}).repeat_interleave(group, 0);  // [q_heads, len, head_dim]
  v = v.permute({1, 0, 2}).repeat_interleave(group, 0);
  auto probs = torch::softmax(torch::matmul(qt, k.transpose(-2, -1)) * scale, -1);
  auto out = torch::matmul(probs, v).reshape({-1}).contiguous();
  return {out.data_ptr<float>(), out.data_ptr<float>() + out.numel()};
}

// The message of the std::invalid_argument `f` throws, or "" when it throws none.
template <class F>
std::string invalid_argument_of(F f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("paged attention: a hand-worked context, split per token, and the GQA head mapping") {
  // q = [1, 0], keys [0, 5] and [ln 3, 7]: scores 0 and ln 3, so probabilities 1/4 and 3/4, and
  // out = 1/4 [1, 2] + 3/4 [5, -2] = [4, -1]. block_tokens = split_tokens = 1: two chunks merged.
  PagedBatch b;
  b.geometry = {1, 1, 2, 1, 2, 2};
  b.q = {1.0f, 0.0f};
  b.k_pool = {0.0f, 5.0f, std::log(3.0f), 7.0f};
  b.v_pool = {1.0f, 2.0f, 5.0f, -2.0f};
  b.block_tables = {1, 0};  // position 0 in block 1, position 1 in block 0
  b.context_lens = {2};
  std::swap_ranges(b.k_pool.begin(), b.k_pool.begin() + 2, b.k_pool.begin() + 2);
  std::swap_ranges(b.v_pool.begin(), b.v_pool.begin() + 2, b.v_pool.begin() + 2);
  for (const auto& out : {paged_decode_attention_reference(b.inputs(), b.geometry, 1.0f, 1),
                          paged_decode_attention_reference(b.inputs(), b.geometry, 1.0f, 2),
                          dense_decode_attention(b.inputs(), b.geometry, 1.0f)}) {
    CHECK(out[0] == doctest::Approx(4.0).epsilon(1e-6));
    CHECK(out[1] == doctest::Approx(-1.0).epsilon(1e-6));
  }

  // One token: the output is that token's V exactly, of kv head q_head / 2 for 4 q heads over 2.
  auto g = shape(4, 2, 3, 4, 1);
  PagedBatch one = random_batch(g, {1}, false, 5);
  const auto out = paged_decode_attention_reference(one.inputs(), one.geometry, 0.5f, 4);
  const int32_t block = one.block_tables[0];
  for (int64_t h = 0; h < 4; ++h)
    for (int64_t d = 0; d < 3; ++d) CHECK(out[h * 3 + d] == one.v_pool[(block * 4 * 2 + h / 2) * 3 + d]);
}

TEST_CASE("paged attention: split-KV equals one dense softmax for every length and split size") {
  const auto g = shape(8, 2, 16, 4, 64);
  const std::vector<int64_t> lens = {1, 3, 4, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256};
  const PagedBatch b = random_batch(g, lens, /*shuffle=*/true, 11);
  const float scale = 1.0f / std::sqrt(16.0f);
  const auto dense = dense_decode_attention(b.inputs(), b.geometry, scale);
  for (const int64_t split : {4, 8, 12, 16, 64, 256, 1024}) {
    CAPTURE(split);
    const auto paged = paged_decode_attention_reference(b.inputs(), b.geometry, scale, split);
    CHECK(max_abs_diff(paged, dense) < 1e-6);
  }
}

TEST_CASE("paged attention: shuffled block tables give the contiguous layout's result, bit for bit") {
  const auto g = shape(6, 3, 8, 4, 20);
  const std::vector<int64_t> lens = {5, 80, 1, 33, 12};
  const PagedBatch contiguous = random_batch(g, lens, false, 21);
  const PagedBatch shuffled = random_batch(g, lens, true, 21);
  REQUIRE(contiguous.q == shuffled.q);
  REQUIRE(contiguous.block_tables != shuffled.block_tables);
  const auto want = paged_decode_attention_reference(contiguous.inputs(), contiguous.geometry, 0.3f, 8);
  CHECK(paged_decode_attention_reference(shuffled.inputs(), shuffled.geometry, 0.3f, 8) == want);
  CHECK(max_abs_diff(want, dense_decode_attention(contiguous.inputs(), contiguous.geometry, 0.3f)) < 1e-6);
}

TEST_CASE("paged attention: GRPO samples forked from one prompt read its shared blocks") {
  // A 10-token prompt in blocks of 4 (two full blocks, one partial), forked into G = 3 samples
  // that each append 6 tokens of their own through PagedKvCache, performing the copies it asks for.
  const int64_t bt = 4, prompt = 10, appended = 6, samples = 3;
  const auto g = shape(4, 2, 8, bt, 8);
  const int64_t row = g.kv_heads * g.head_dim;
  PagedKvCache cache(/*num_blocks=*/16, bt);
  PagedAttentionGeometry pooled = g;
  pooled.num_blocks = cache.num_blocks();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> k_pool(size_t(pooled.pool_floats()), nan), v_pool(k_pool);
  auto write = [&](const KvSlot& slot, const DenseContext& c, int64_t p) {
    const int64_t at = (slot.block * bt + slot.offset) * row;
    std::copy_n(c.k.begin() + p * row, row, k_pool.begin() + at);
    std::copy_n(c.v.begin() + p * row, row, v_pool.begin() + at);
  };

  const auto prompt_kv = random_contexts({prompt}, g.kv_heads, g.head_dim, 31)[0];
  REQUIRE(cache.add_sequence(0, prompt));
  for (int64_t p = 0; p < prompt; ++p) write({cache.table(0).blocks[p / bt], p % bt}, prompt_kv, p);
  cache.fork(0, {1, 2});

  // Each sample's whole context, dense: the prompt's K/V, then its own tokens.
  const auto own = random_contexts(std::vector<int64_t>(samples, appended), g.kv_heads, g.head_dim, 41);
  std::vector<DenseContext> contexts(samples);
  for (int64_t s = 0; s < samples; ++s) {
    contexts[s].len = prompt + appended;
    contexts[s].k = prompt_kv.k;
    contexts[s].k.insert(contexts[s].k.end(), own[s].k.begin(), own[s].k.end());
    contexts[s].v = prompt_kv.v;
    contexts[s].v.insert(contexts[s].v.end(), own[s].v.begin(), own[s].v.end());
  }
  int64_t copies = 0;
  for (int64_t t = 0; t < appended; ++t) {
    for (int64_t s = 0; s < samples; ++s) {
      const auto append = cache.append_token(s);
      REQUIRE(append.has_value());
      if (append->copy) {
        ++copies;
        const auto& c = *append->copy;
        std::copy_n(k_pool.begin() + c.src * bt * row, c.tokens * row, k_pool.begin() + c.dst * bt * row);
        std::copy_n(v_pool.begin() + c.src * bt * row, c.tokens * row, v_pool.begin() + c.dst * bt * row);
      }
      write(append->slot, contexts[s], prompt + t);
    }
  }
  CHECK(copies == samples - 1);  // the partial prompt block: copied for all but its last holder
  for (int64_t s = 1; s < samples; ++s) {
    CHECK(cache.table(s).blocks[0] == cache.table(0).blocks[0]);  // full prompt blocks stay shared
    CHECK(cache.table(s).blocks[1] == cache.table(0).blocks[1]);
    CHECK(cache.table(s).blocks[2] != cache.table(0).blocks[2]);
  }
  CHECK(cache.ref_count(cache.table(0).blocks[0]) == samples);

  std::vector<int32_t> tables(size_t(samples * g.max_blocks), -1), lens;
  for (int64_t s = 0; s < samples; ++s) {
    const auto& blocks = cache.table(s).blocks;
    std::copy(blocks.begin(), blocks.end(), tables.begin() + s * g.max_blocks);
    lens.push_back(int32_t(cache.num_tokens(s)));
  }
  const auto q = uniform_floats(size_t(samples * g.q_heads * g.head_dim), -3.0f, 3.0f, 51);
  const auto forked = paged_decode_attention_reference({q, k_pool, v_pool, tables, lens}, pooled, 0.35f, 8);
  const PagedBatch separate = paged_batch(g, q, contexts, false, 0);
  CHECK(forked == paged_decode_attention_reference(separate.inputs(), separate.geometry, 0.35f, 8));
}

TEST_CASE("paged attention: the reference equals LibTorch attention over the gathered K/V") {
  for (const int64_t kv_heads : {1, 2, 8}) {  // MQA, GQA (4 q heads a kv head), MHA
    CAPTURE(kv_heads);
    const auto g = shape(8, kv_heads, 64, 16, 10);
    const std::vector<int64_t> lens = {1, 7, 16, 50, 129, 160};
    const auto q = uniform_floats(lens.size() * size_t(g.q_heads * g.head_dim), -2.0f, 2.0f, 61);
    const auto contexts = random_contexts(lens, g.kv_heads, g.head_dim, 71);
    const PagedBatch b = paged_batch(g, q, contexts, true, 81);
    const float scale = 1.0f / std::sqrt(64.0f);
    const auto out = paged_decode_attention_reference(b.inputs(), b.geometry, scale, 32);
    for (size_t s = 0; s < lens.size(); ++s) {
      CAPTURE(lens[s]);
      const auto want = torch_attention(contexts[s], q.data() + s * g.q_heads * g.head_dim, g, scale);
      CHECK(max_abs_diff(rows_of(out, g, int64_t(s)), want) < 1e-5);
    }
  }
}

TEST_CASE("paged attention: a sequence's result does not depend on the rest of the batch") {
  const auto g = shape(4, 2, 16, 4, 64);
  const float scale = 0.25f;
  const auto q = uniform_floats(size_t(g.q_heads * g.head_dim), -3.0f, 3.0f, 91);
  const auto mine = random_contexts({37}, g.kv_heads, g.head_dim, 92)[0];
  const PagedBatch alone = paged_batch(g, q, {mine}, true, 93);
  const auto want = paged_decode_attention_reference(alone.inputs(), alone.geometry, scale, 8);

  // Beside a longer and a shorter sequence, second in the batch, in other blocks of a bigger pool.
  auto others = random_contexts({250, 3}, g.kv_heads, g.head_dim, 94);
  auto q3 = uniform_floats(size_t(3 * g.q_heads * g.head_dim), -3.0f, 3.0f, 95);
  std::copy(q.begin(), q.end(), q3.begin() + g.q_heads * g.head_dim);
  const PagedBatch mixed = paged_batch(g, q3, {others[0], mine, others[1]}, true, 96, 10);
  const auto out = paged_decode_attention_reference(mixed.inputs(), mixed.geometry, scale, 8);
  CHECK(rows_of(out, g, 1) == want);
}

TEST_CASE("paged attention: bad inputs throw std::invalid_argument naming the field") {
  const PagedBatch good = random_batch(shape(4, 2, 8, 4, 4), {5, 16}, true, 101);
  REQUIRE_NOTHROW(paged_decode_attention_reference(good.inputs(), good.geometry, 0.5f, 8));
  auto check = [&good](const std::string& field, auto mutate, int64_t split = 8, float scale = 0.5f) {
    PagedBatch b = good;
    mutate(b);
    const std::string message =
        invalid_argument_of([&] { paged_decode_attention_reference(b.inputs(), b.geometry, scale, split); });
    CHECK_MESSAGE(message.rfind(field + ": ", 0) == 0, field, " -> \"", message, "\"");
    if (field != "split_tokens") {
      const std::string dense = invalid_argument_of([&] { dense_decode_attention(b.inputs(), b.geometry, scale); });
      CHECK_MESSAGE(dense.rfind(field + ": ", 0) == 0, field, " -> \"", dense, "\" (dense)");
    }
  };
  auto none = [](PagedBatch&) {};
  check("q_heads", [](PagedBatch& b) { b.geometry.q_heads = 3; });
  check("kv_heads", [](PagedBatch& b) { b.geometry.kv_heads = 0; });
  check("head_dim", [](PagedBatch& b) { b.geometry.head_dim = -1; });
  check("max_blocks", [](PagedBatch& b) { b.geometry.max_blocks = 0; });
  check("split_tokens", none, /*split=*/6);  // not a multiple of block_tokens = 4
  check("split_tokens", none, /*split=*/0);
  check("scale", none, 8, std::numeric_limits<float>::quiet_NaN());
  check("scale", none, 8, 0.0f);
  check("q", [](PagedBatch& b) { b.q.pop_back(); });
  check("k_pool", [](PagedBatch& b) { b.k_pool.push_back(0.0f); });
  check("v_pool", [](PagedBatch& b) { b.v_pool.pop_back(); });
  check("block_tables", [](PagedBatch& b) { b.block_tables.pop_back(); });
  check("context_lens", [](PagedBatch& b) { b.context_lens[1] = 0; });
  check("context_lens", [](PagedBatch& b) { b.context_lens[0] = 4 * 4 + 1; });  // beyond max_blocks * block_tokens
  check("block_tables", [](PagedBatch& b) { b.block_tables[1] = int32_t(b.geometry.num_blocks); });
  check("block_tables", [](PagedBatch& b) { b.block_tables[4] = -1; });  // sequence 1's first block

  // Entries past a sequence's last block are not read: padding there is fine.
  PagedBatch padded = good;
  padded.block_tables[3] = -7;  // sequence 0 (5 tokens) uses entries 0 and 1 only
  CHECK(paged_decode_attention_reference(padded.inputs(), padded.geometry, 0.5f, 8) ==
        paged_decode_attention_reference(good.inputs(), good.geometry, 0.5f, 8));
}
