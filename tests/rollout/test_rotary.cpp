// The rollout RoPE reference (rollout/rotary.h) on the policy's own tables (rollout/rotary_tables.h)
// against the policy's RotaryEmbedding::apply: bit for bit for Qwen3 with YaRN scaling inside a
// fused q/k/v buffer, for DeepSeek-V3's interleaved MLA dims (the policy regroups the pairs before
// rotating), and for the one shared k_pe row of MLA; then the refusals.
#include "tests/doctest_torch.h"

#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "policy/transformer.h"
#include "rollout/rotary.h"
#include "rollout/rotary_tables.h"
#include "tests/random_values.h"
#include "tests/rollout/hf_fixture_models.h"

using namespace r1::rollout;
using r1::test::hf_fixture_config;
using r1::test::uniform_floats;

namespace {

std::vector<int32_t> random_positions(int64_t tokens, int64_t max_position, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, int32_t(max_position - 1));
  std::vector<int32_t> positions(static_cast<size_t>(tokens));
  for (auto& p : positions) p = dist(rng);
  positions.back() = int32_t(max_position - 1);  // the table's last row too
  return positions;
}

// The rows of `x` (tokens x heads, strided) as a [1, heads, tokens, rope_dim] tensor, the shape the
// policy rotates; `interleaved` regroups (even, odd) pairs into halves as MlaAttentionImpl does.
torch::Tensor gather_rows(const std::vector<float>& x, const RotaryLayout& l, int64_t tokens, bool interleaved) {
  auto out = torch::empty({1, l.heads, tokens, l.rope_dim});
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t h = 0; h < l.heads; ++h)
      for (int64_t d = 0; d < l.rope_dim; ++d)
        out[0][h][t][d] = x[size_t(t * l.token_stride + h * l.head_stride + d)];
  if (interleaved) {  // policy/transformer.cpp's deinterleave: [.., dim/2, 2] -> [.., 2, dim/2]
    out = out.reshape({1, l.heads, tokens, l.rope_dim / 2, 2}).transpose(-1, -2).reshape({1, l.heads, tokens, l.rope_dim});
  }
  return out;
}

// The policy's rotation of the same rows, compared with the reference in place on `x`: every
// element equal, and the floats between rows untouched.
void check_against_policy(const r1::policy::ModelConfig& model, const RotaryLayout& layout, int64_t tokens,
                          uint32_t seed) {
  const RotaryTables tables = rotary_tables(model);
  REQUIRE(tables.rope_dim == layout.rope_dim);
  const int64_t floats = tokens * layout.token_stride;
  std::vector<float> x = uniform_floats(size_t(floats), -3.0f, 3.0f, seed);
  const auto positions = random_positions(tokens, model.max_position, seed + 1);

  torch::NoGradGuard no_grad;
  const r1::policy::RotaryEmbedding rope(model);
  const auto pos = torch::tensor(std::vector<int64_t>(positions.begin(), positions.end())).unsqueeze(0);
  const auto want = r1::policy::RotaryEmbedding::apply(gather_rows(x, layout, tokens, layout.interleaved),
                                                       rope.angles(pos, torch::kFloat32));
  const std::vector<float> before = x;
  apply_rotary_reference(x, positions, tables.cos, tables.sin, tables.max_position, layout);
  const auto got = gather_rows(x, layout, tokens, /*interleaved=*/false);
  CHECK(torch::equal(got, want));
  CHECK(!torch::equal(got, gather_rows(before, layout, tokens, false)));  // it did rotate
  // Floats outside the rows (the v part of a fused buffer, MLA's nope dims) are not touched.
  size_t untouched_changed = 0, outside = 0;
  std::vector<bool> in_row(size_t(floats), false);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t h = 0; h < layout.heads; ++h)
      for (int64_t d = 0; d < layout.rope_dim; ++d) in_row[size_t(t * layout.token_stride + h * layout.head_stride + d)] = true;
  for (size_t i = 0; i < x.size(); ++i)
    if (!in_row[i]) {
      ++outside;
      untouched_changed += x[i] != before[i];
    }
  CHECK(untouched_changed == 0);
  if (layout.token_stride > layout.heads * layout.rope_dim) CHECK(outside > 0);
}

}  // namespace

TEST_CASE("rotary reference equals the policy's RoPE bit for bit: Qwen3 with YaRN, inside a fused q/k/v buffer") {
  const auto model = hf_fixture_config(
      "qwen3", {{"rope_parameters",
                 {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 128}, {"rope_theta", 1e6}}}});
  REQUIRE(model.rope.type == "yarn");
  const int64_t q = model.num_heads * model.head_dim, kv = model.num_kv_heads * model.head_dim;
  // The q heads of a [tokens][q | k | v] buffer, then its k heads (base offset q, same strides).
  const RotaryLayout q_rows{model.num_heads, model.head_dim, q + 2 * kv, model.head_dim, false};
  check_against_policy(model, q_rows, 37, 11);
  const RotaryLayout plain{model.num_kv_heads, model.head_dim, model.num_kv_heads * model.head_dim, model.head_dim,
                           false};
  check_against_policy(model, plain, 5, 12);
}

TEST_CASE("rotary reference: DeepSeek-V3's interleaved MLA dims and the shared k_pe row") {
  const auto model = hf_fixture_config("deepseek_v3");
  REQUIRE(model.rope_interleave);
  const int64_t nope = model.qk_nope_head_dim, rope = model.qk_rope_head_dim;
  // q_pe: the last rope dims of each head's [nope | rope] query; the test's base is already past nope.
  check_against_policy(model, RotaryLayout{model.num_heads, rope, model.num_heads * (nope + rope), nope + rope, true},
                       29, 21);
  // k_pe: one row per token after the latent of kv_a_proj_with_mqa ([latent | k_pe]).
  check_against_policy(model, RotaryLayout{1, rope, model.kv_lora_rank + rope, 0, true}, 29, 22);
}

TEST_CASE("rotary reference refuses bad layouts, tables and positions, naming them") {
  const auto model = hf_fixture_config("qwen3");
  const RotaryTables t = rotary_tables(model);
  std::vector<float> x(size_t(4 * t.rope_dim), 1.0f);
  auto refused = [&](RotaryLayout layout, std::vector<int32_t> positions, const char* what) {
    CHECK_THROWS_WITH_AS(apply_rotary_reference(x, positions, t.cos, t.sin, t.max_position, layout),
                         doctest::Contains(what), std::invalid_argument);
  };
  const int64_t d = t.rope_dim;
  refused({1, d + 1, d + 1, 0, false}, {0}, "rope_dim = ");
  refused({2, d, 2 * d, d - 2, false}, {0}, "head_stride = ");
  refused({2, d, d, d, false}, {0, 1}, "token_stride = ");
  refused({1, d, d, 0, false}, {0, int32_t(t.max_position)}, "token 1: position ");
  refused({1, d, d, 0, false}, {-1}, "token 0: position -1");
  refused({1, d, 2 * d, 0, false}, {0, 0, 0}, "the rows need");  // 3 tokens at stride 2d need 5d floats
  CHECK_THROWS_WITH_AS(apply_rotary_reference(x, {0}, t.cos, std::vector<float>(3), t.max_position, {1, d, d, 0, false}),
                       doctest::Contains("cos/sin tables hold"), std::invalid_argument);
  CHECK(x == std::vector<float>(x.size(), 1.0f));  // nothing was written by a refused call
}
