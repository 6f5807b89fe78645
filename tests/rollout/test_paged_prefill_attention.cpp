// Paged prefill attention's reference (rollout/paged_prefill_attention.h) against the policy: a
// Qwen3 attention layer's own forward (causal over a whole prompt, then a chunk after a cached
// prefix), DeepSeek-V3's MLA layer's forward through the absorbed form (latent pool, q_nope W_uk,
// lift by W_uv), decode queries against paged decode attention's reference, and the refusals.
#include "tests/doctest_torch.h"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "policy/transformer.h"
#include "rollout/paged_attention.h"
#include "rollout/paged_prefill_attention.h"
#include "tests/rollout/hf_fixture_models.h"
#include "tests/rollout/paged_attention_batch.h"

using namespace r1::rollout;
using namespace r1::paged_attention_test;
using r1::test::hf_fixture_config;

namespace {

std::vector<float> to_vector(const torch::Tensor& t) {
  const auto flat = t.contiguous().view(-1);
  return {flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel()};
}

torch::Tensor positions_tensor(int64_t n) { return torch::arange(n, torch::kInt64).unsqueeze(0); }

// One sequence's rows ([len][kv_heads * row] for K and V) laid into a shuffled pool of 4-token blocks.
PagedBatch one_sequence_pool(const std::vector<float>& k, const std::vector<float>& v, int64_t len, int64_t kv_heads,
                             int64_t row, uint32_t seed) {
  const PagedAttentionGeometry g{kv_heads, kv_heads, row, /*block_tokens=*/4, 0, /*max_blocks=*/(len + 3) / 4 + 2};
  return paged_batch(g, {}, {DenseContext{len, k, v}}, /*shuffle=*/true, seed);
}

PagedPrefillGeometry prefill_geometry(const PagedBatch& b, int64_t q_heads, int64_t value_dim, int64_t value_stride) {
  const auto& g = b.geometry;
  return {q_heads, g.kv_heads, g.head_dim, value_dim, value_stride, g.block_tokens, g.num_blocks, g.max_blocks};
}

std::vector<int32_t> range(int64_t begin, int64_t end) {
  std::vector<int32_t> r;
  for (int64_t i = begin; i < end; ++i) r.push_back(int32_t(i));
  return r;
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST_CASE("prefill reference reproduces a Qwen3 attention layer: whole prompt, and a chunk after a cached prefix") {
  torch::manual_seed(5);
  torch::NoGradGuard no_grad;
  const auto model = hf_fixture_config("qwen3");
  r1::policy::Attention attn(model, 0);
  const r1::policy::RotaryEmbedding rope(model);
  const int64_t n = 23, heads = model.num_heads, kvh = model.num_kv_heads, d = model.head_dim;
  const auto x = torch::randn({1, n, model.hidden_size});
  const auto angles = rope.angles(positions_tensor(n), torch::kFloat32);
  const auto want = attn->forward(x, angles, nullptr);  // [1, n, hidden], causal
  const auto p = attn->project(x, angles);               // q [1, H, n, d], k/v [1, KVH, n, d]
  REQUIRE(!attn->divides());

  const PagedBatch pool = one_sequence_pool(to_vector(p.k[0].transpose(0, 1)), to_vector(p.v[0].transpose(0, 1)), n,
                                            kvh, d, 17);
  const auto q = to_vector(p.q[0].transpose(0, 1));  // [n][H][d]
  const auto g = prefill_geometry(pool, heads, d, d);
  auto run = [&](int64_t first) {  // queries first .. n-1, the positions before them already cached
    const std::vector<float> chunk_q(q.begin() + first * heads * d, q.end());
    const std::vector<int32_t> seqs(size_t(n - first), 0);
    const auto out = paged_prefill_attention_reference({chunk_q, pool.k_pool, pool.v_pool, pool.block_tables, seqs,
                                                        range(first, n)},
                                                       g, float(attn->scale()));
    return attn->o_proj(torch::tensor(out).view({1, n - first, heads * d}));
  };
  CHECK(max_abs(run(0), want) < 2e-6);
  CHECK(max_abs(run(15), want.narrow(1, 15, n - 15)) < 2e-6);  // a 15-token cached prefix, an 8-token chunk
}

TEST_CASE("prefill reference in the absorbed form reproduces DeepSeek-V3's MLA layer") {
  torch::manual_seed(6);
  torch::NoGradGuard no_grad;
  const auto model = hf_fixture_config("deepseek_v3");
  r1::policy::MlaAttention mla(model, 0);
  const r1::policy::RotaryEmbedding rope(model);
  const int64_t n = 19, heads = model.num_heads, nope = model.qk_nope_head_dim, rope_dim = model.qk_rope_head_dim;
  const int64_t rank = model.kv_lora_rank, vdim = model.v_head_dim, key_dim = rank + rope_dim;
  const auto x = torch::randn({1, n, model.hidden_size});
  const auto angles = rope.angles(positions_tensor(n), torch::kFloat32);
  const auto want = mla->forward(x, angles, nullptr);
  const auto p = mla->project(x, angles);

  // The cache row of a token: [latent | k_pe], one per token (kv_heads 1), serving as K and V.
  const auto rows = to_vector(torch::cat({p.latent[0], p.k_pe[0]}, -1));
  const PagedBatch pool = one_sequence_pool(rows, rows, n, 1, key_dim, 23);
  const auto w = mla->kv_b_proj->weight.view({heads, nope + vdim, rank});
  const auto w_uk = w.narrow(1, 0, nope), w_uv_t = w.narrow(1, nope, vdim).transpose(1, 2);
  const auto query = torch::cat({torch::matmul(p.q_nope, w_uk), p.q_pe}, -1);  // [1, H, n, rank + rope]
  const auto g = prefill_geometry(pool, heads, rank, key_dim);
  const auto latent_avg = paged_prefill_attention_reference(
      {to_vector(query[0].transpose(0, 1)), pool.k_pool, pool.k_pool, pool.block_tables, std::vector<int32_t>(size_t(n), 0),
       range(0, n)},
      g, float(mla->scale()));  // [n][H][rank]
  const auto per_head = torch::matmul(torch::tensor(latent_avg).view({n, heads, rank}).transpose(0, 1), w_uv_t);
  const auto got = mla->o_proj(per_head.transpose(0, 1).reshape({1, n, heads * vdim}));
  CHECK(max_abs(got, want) < 1e-5);
  CHECK(want.abs().max().item<double>() > 0.05);  // a real signal, not zeros on both sides
}

TEST_CASE("prefill reference: decode queries of several sequences equal paged decode attention's reference") {
  const PagedAttentionGeometry shape{8, 2, 16, 4, 0, 32};
  const std::vector<int64_t> lens = {1, 7, 33, 100};
  const auto q = r1::test::uniform_floats(lens.size() * 8 * 16, -2.0f, 2.0f, 31);
  const PagedBatch b = paged_batch(shape, q, random_contexts(lens, 2, 16, 32), true, 33);
  std::vector<int32_t> seqs, positions;
  for (size_t s = 0; s < lens.size(); ++s) {
    seqs.push_back(int32_t(s));
    positions.push_back(int32_t(lens[s] - 1));
  }
  const PagedPrefillGeometry g = prefill_geometry(b, 8, 16, 16);
  const auto got =
      paged_prefill_attention_reference({b.q, b.k_pool, b.v_pool, b.block_tables, seqs, positions}, g, 0.25f);
  CHECK(max_abs_diff(got, dense_decode_attention(b.inputs(), b.geometry, 0.25f)) < 1e-5);
}

TEST_CASE("prefill reference refuses bad geometry, sizes and queries, naming them") {
  const PagedAttentionGeometry shape{4, 2, 8, 4, 0, 4};
  const auto q = r1::test::uniform_floats(2 * 4 * 8, -1.0f, 1.0f, 41);
  const PagedBatch b = paged_batch(shape, q, random_contexts({5, 9}, 2, 8, 42), true, 43, /*spare=*/0);
  const PagedPrefillGeometry g = prefill_geometry(b, 4, 8, 8);
  auto refused = [&](PagedPrefillGeometry geometry, std::vector<int32_t> seqs, std::vector<int32_t> positions,
                     const char* what, float scale = 0.5f) {
    std::vector<float> qs(seqs.size() * size_t(geometry.q_heads * geometry.key_dim), 0.0f);
    CHECK_THROWS_WITH_AS(
        paged_prefill_attention_reference({qs, b.k_pool, b.v_pool, b.block_tables, seqs, positions}, geometry, scale),
        doctest::Contains(what), std::invalid_argument);
  };
  auto with = [&](auto mutate) {
    PagedPrefillGeometry changed = g;
    mutate(changed);
    return changed;
  };
  refused(with([](auto& x) { x.q_heads = 3; }), {0}, {0}, "q_heads = 3 is not a multiple of kv_heads = 2");
  refused(with([](auto& x) { x.value_dim = 9; }), {0}, {0}, "value_dim = 9 > value_stride = 8");
  refused(with([](auto& x) { x.key_dim = 0; }), {0}, {0}, "key_dim = 0");
  refused(g, {0}, {0}, "scale = 0", 0.0f);
  refused(g, {0, 2}, {0, 0}, "query 1: sequence 2 outside [0, 2)");
  refused(g, {1}, {16}, "query 0: position 16 outside");
  refused(g, {0}, {0, 1}, "query_positions holds 2 values, expected 1");
  // Sequence 0 owns 2 blocks (5 positions); position 9 reads its third table entry, which is -1.
  refused(g, {0}, {9}, "query 0: block -1 (table entry 2)");
}
