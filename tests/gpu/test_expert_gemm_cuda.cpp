// rollout/cuda grouped expert GEMMs and combine against their CPU references
// (expert_swiglu_reference / expert_down_reference in rollout/expert_ffn.h, combine() in
// rollout/moe_routing.h) on a random routing at OLMoE's expert count and top-k, sizes that are no
// multiple of the tiles, with vector and scalar loads, a decode step and full tiles, the tail past
// the rows in use left unwritten; the combine fused into the next RMSNorm gives the same bits; a token's output is the same bits alone and in a batch; validation runs
// without a device.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/error.h"
#include "rollout/cuda/cuda_check.h"
#include "rollout/bf16.h"
#include "rollout/cuda/expert_gemm.h"
#include "rollout/cuda/rmsnorm.h"
#include "rollout/expert_ffn.h"
#include "rollout/moe_routing.h"
#include "tests/gpu/cuda_test_support.h"
#include "tests/float_compare.h"
#include "tests/random_values.h"

using namespace r1::rollout;
using namespace r1::rollout::kernels;
using r1::gpu_test::DeviceArray;
using r1::test::max_abs_diff;
using r1::test::uniform_floats;

namespace {

// A routing of `tokens` tokens to `top_k` distinct experts each, weights in (0, 1).
Routing random_routing(int64_t tokens, int64_t top_k, int64_t experts, uint32_t seed) {
  std::mt19937 rng(seed);
  Routing r{tokens, top_k, {}, uniform_floats(size_t(tokens * top_k), 0.05f, 1.0f, seed + 1)};
  std::vector<int32_t> ids(static_cast<size_t>(experts));
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t e = 0; e < experts; ++e) ids[size_t(e)] = int32_t(e);
    std::shuffle(ids.begin(), ids.end(), rng);
    r.expert_ids.insert(r.expert_ids.end(), ids.begin(), ids.begin() + top_k);
  }
  return r;
}

struct Weights {
  std::vector<float> gate, up, down;
};

// What the expert GEMMs' outputs hold before a launch: rows past offsets[E] (the tail) must keep it.
constexpr float kUnwritten = 7.0f;

// `rows` of `width` floats from a device output: the tail checked unwritten, then zeroed as the
// references give it.
std::vector<float> rows_in_use(const DeviceArray<float>& out, const ExpertPermutation& perm, int64_t width) {
  auto host = out.to_host();
  const auto in_use = size_t(perm.offsets.back() * width);
  CHECK(std::all_of(host.begin() + int64_t(in_use), host.end(), [](float v) { return v == kUnwritten; }));
  std::fill(host.begin() + int64_t(in_use), host.end(), 0.0f);
  return host;
}

// The three kernels on the device for `routing` over `perm`; returns [tokens][hidden].
std::vector<float> moe_on_device(const ExpertPermutation& perm, const Routing& routing, const std::vector<float>& x,
                                 const Weights& w, const ExpertFfnShape& s, std::vector<float>* h_out = nullptr,
                                 std::vector<float>* y_out = nullptr) {
  DeviceArray<float> dx(x), gate(w.gate), up(w.up), down(w.down), weights(routing.weights);
  DeviceArray<int32_t> offsets(perm.offsets), slot_of_row(perm.slot_of_row), row_of_slot(perm.row_of_slot);
  DeviceArray<float> h(std::vector<float>(size_t(perm.capacity * s.intermediate), kUnwritten));
  DeviceArray<float> y(std::vector<float>(size_t(perm.capacity * s.hidden), kUnwritten));
  DeviceArray<float> out(size_t(perm.tokens * s.hidden));
  ExpertGemmParams p{h.get(), dx.get(), gate.get(), up.get(), offsets.get(), slot_of_row.get(), perm.capacity,
                     perm.tokens, int32_t(perm.top_k), int32_t(s.num_experts), int32_t(perm.tile),
                     int32_t(s.intermediate), int32_t(s.hidden)};
  expert_swiglu_forward(p, nullptr);
  p = {y.get(), h.get(), down.get(), nullptr, offsets.get(), slot_of_row.get(), perm.capacity, perm.tokens,
       int32_t(perm.top_k), int32_t(s.num_experts), int32_t(perm.tile), int32_t(s.hidden), int32_t(s.intermediate)};
  expert_down_forward(p, nullptr);
  moe_combine_forward({out.get(), y.get(), weights.get(), row_of_slot.get(), perm.tokens, perm.capacity,
                       int32_t(perm.top_k), int32_t(s.hidden)},
                      nullptr);
  R1_CUDA_CHECK(cudaDeviceSynchronize());
  if (h_out) *h_out = rows_in_use(h, perm, s.intermediate);
  if (y_out) *y_out = rows_in_use(y, perm, s.hidden);
  return out.to_host();
}

}  // namespace

TEST_CASE("expert GEMM kernels: parameter validation (no device needed)") {
  ExpertGemmParams ok{};
  ok.capacity = 64;
  ok.tokens = 8;
  ok.top_k = 2;
  ok.num_experts = 4;
  ok.tile = 16;
  ok.n = 32;
  ok.k = 16;
  const auto refused = r1::gpu_test::refusals_of(ok, [](const ExpertGemmParams& p) { expert_swiglu_forward(p, nullptr); });
  const auto refused_down =
      r1::gpu_test::refusals_of(ok, [](const ExpertGemmParams& p) { expert_down_forward(p, nullptr); });
  refused("tile = 8 must be a multiple of 16", [](auto& p) { p.tile = 8; });
  refused_down("n = 0", [](auto& p) { p.n = 0; });
  refused("out, a, offsets or slot_of_row is null", [](auto&) {});
  static const float one = 1.0f;
  static const uint16_t one_bf16 = 0x3f80;
  refused("exactly one of w and w_bf16", [](auto& p) {
    p.out = const_cast<float*>(&one);
    p.a = &one;
    p.offsets = p.slot_of_row = reinterpret_cast<const int32_t*>(&one);
    p.w = &one;
    p.w_bf16 = &one_bf16;
  });
  refused("w_up (or w_up_bf16, with bf16 weights) is null", [](auto& p) {
    p.out = const_cast<float*>(&one);
    p.a = &one;
    p.offsets = p.slot_of_row = reinterpret_cast<const int32_t*>(&one);
    p.w_bf16 = &one_bf16;
  });
  CHECK_THROWS_WITH_AS(moe_combine_forward({nullptr, nullptr, nullptr, nullptr, 3, 64, 2, 0}, nullptr),
                       doctest::Contains("hidden = 0"), r1::InternalError);
  ok.capacity = 0;
  expert_down_forward(ok, nullptr);  // nothing to launch, null pointers allowed
}

TEST_CASE("expert GEMM kernels equal the CPU references: SwiGLU, down, combine") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  // OLMoE's 64 experts, top-8. Widths off the kernels' column blocks; 200 x 72 take the vector
  // loads (k a multiple of 4), 198 x 70 the scalar ones; 1 token is a decode step (each of its
  // experts' tiles one row in use, the rest padding), 100 tokens fill tiles.
  struct Case {
    int64_t tokens, hidden, intermediate;
  };
  for (const Case c : {Case{100, 200, 72}, Case{100, 198, 70}, Case{1, 200, 72}, Case{1, 198, 70}}) {
    CAPTURE(c.tokens);
    CAPTURE(c.hidden);
    const ExpertFfnShape s{64, c.hidden, c.intermediate};
    const Routing routing = random_routing(c.tokens, 8, s.num_experts, 1);
    const Weights w{uniform_floats(size_t(64 * s.intermediate * s.hidden), -0.1f, 0.1f, 2),
                    uniform_floats(size_t(64 * s.intermediate * s.hidden), -0.1f, 0.1f, 3),
                    uniform_floats(size_t(64 * s.hidden * s.intermediate), -0.1f, 0.1f, 4)};
    const auto x = uniform_floats(size_t(c.tokens * s.hidden), -1.0f, 1.0f, 5);
    for (const int64_t tile : {16, 64}) {
      CAPTURE(tile);
      const ExpertPermutation perm = permute(routing, s.num_experts, tile);
      std::vector<float> h, y;
      const auto out = moe_on_device(perm, routing, x, w, s, &h, &y);
      const auto want_h = expert_swiglu_reference(perm, x, w.gate, w.up, s);
      const auto want_y = expert_down_reference(perm, want_h, w.down, s);
      CHECK(max_abs_diff(h, want_h) < 1e-5);
      CHECK(max_abs_diff(y, expert_down_reference(perm, h, w.down, s)) < 1e-5);
      CHECK(max_abs_diff(out, combine(perm, routing, y, s.hidden)) < 1e-5);
      CHECK(max_abs_diff(out, combine(perm, routing, want_y, s.hidden)) < 1e-4);
    }
  }
}

TEST_CASE("expert GEMM kernels: a token's output is the same bits alone and in a batch") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  const ExpertFfnShape s{16, 128, 64};
  const Weights w{uniform_floats(size_t(16 * 64 * 128), -0.1f, 0.1f, 12),
                  uniform_floats(size_t(16 * 64 * 128), -0.1f, 0.1f, 13),
                  uniform_floats(size_t(16 * 128 * 64), -0.1f, 0.1f, 14)};
  const Routing crowd = random_routing(40, 4, s.num_experts, 11);
  const auto x = uniform_floats(size_t(40 * 128), -1.0f, 1.0f, 15);
  const auto all = moe_on_device(permute(crowd, 16, 16), crowd, x, w, s);
  const int64_t t = 23;  // token 23 alone
  const Routing alone{1, 4, {crowd.expert_ids.begin() + t * 4, crowd.expert_ids.begin() + (t + 1) * 4},
                      {crowd.weights.begin() + t * 4, crowd.weights.begin() + (t + 1) * 4}};
  const std::vector<float> x_alone(x.begin() + t * 128, x.begin() + (t + 1) * 128);
  const auto one = moe_on_device(permute(alone, 16, 16), alone, x_alone, w, s);
  CHECK(one == std::vector<float>(all.begin() + t * 128, all.begin() + (t + 1) * 128));
}

TEST_CASE("expert GEMM kernels with bf16 weights equal the fp32 kernels on the widened weights, bit for bit") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  const ExpertFfnShape s{16, 136, 80};
  const Routing routing = random_routing(40, 4, s.num_experts, 7);
  const auto perm = permute(routing, s.num_experts, 16);
  const auto x = uniform_floats(size_t(40 * s.hidden), -1.0f, 1.0f, 8);
  Weights w{uniform_floats(size_t(s.num_experts * s.intermediate * s.hidden), -0.2f, 0.2f, 9),
            uniform_floats(size_t(s.num_experts * s.intermediate * s.hidden), -0.2f, 0.2f, 10),
            uniform_floats(size_t(s.num_experts * s.hidden * s.intermediate), -0.2f, 0.2f, 11)};
  for (auto* v : {&w.gate, &w.up, &w.down}) bf16_round_in_place(*v);  // exactly representable in bf16
  std::vector<float> h32, y32;
  moe_on_device(perm, routing, x, w, s, &h32, &y32);

  DeviceArray<float> dx(x);
  DeviceArray<uint16_t> gate(bf16_bits(w.gate)), up(bf16_bits(w.up)), down(bf16_bits(w.down));
  DeviceArray<int32_t> offsets(perm.offsets), slot_of_row(perm.slot_of_row);
  DeviceArray<float> h(std::vector<float>(size_t(perm.capacity * s.intermediate), kUnwritten));
  DeviceArray<float> y(std::vector<float>(size_t(perm.capacity * s.hidden), kUnwritten));
  ExpertGemmParams p{h.get(), dx.get(), nullptr, nullptr, offsets.get(), slot_of_row.get(), perm.capacity,
                     perm.tokens, int32_t(perm.top_k), int32_t(s.num_experts), int32_t(perm.tile),
                     int32_t(s.intermediate), int32_t(s.hidden), gate.get(), up.get()};
  expert_swiglu_forward(p, nullptr);
  p = {y.get(), h.get(), nullptr, nullptr, offsets.get(), slot_of_row.get(), perm.capacity, perm.tokens,
       int32_t(perm.top_k), int32_t(s.num_experts), int32_t(perm.tile), int32_t(s.hidden), int32_t(s.intermediate),
       down.get(), nullptr};
  expert_down_forward(p, nullptr);
  R1_CUDA_CHECK(cudaDeviceSynchronize());
  CHECK(rows_in_use(h, perm, s.intermediate) == h32);
  CHECK(rows_in_use(y, perm, s.hidden) == y32);
}

TEST_CASE("the MoE combine fused into the next RMSNorm: refusals (no device needed)") {
  static float one[1] = {1.0f};
  static const int32_t row[1] = {0};
  RmsNormParams p{one, one, one, 1, 1, 1e-6f};
  const RmsNormMoeResidual moe{one, one, row, 1, 1};
  CHECK_THROWS_WITH_AS(rmsnorm_forward(p, moe, nullptr), doctest::Contains("needs sum"), r1::InternalError);
  p.sum = one;
  p.residual = one;
  CHECK_THROWS_WITH_AS(rmsnorm_forward(p, moe, nullptr), doctest::Contains("a MoE residual and a dense one"),
                       r1::InternalError);
  p.residual = nullptr;
  CHECK_THROWS_WITH_AS(rmsnorm_forward(p, {one, one, nullptr, 1, 1}, nullptr),
                       doctest::Contains("expert_out, weights or row_of_slot is null"), r1::InternalError);
}

TEST_CASE("gpu: the MoE combine fused into the next RMSNorm gives the separate launches' bits") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t tokens = 9, top_k = 4, capacity = 48;
  for (const int64_t hidden : {200, 2048}) {
    CAPTURE(hidden);
    const auto expert_out = uniform_floats(size_t(capacity * hidden), -1.0f, 1.0f, 71);
    const auto weights = uniform_floats(size_t(tokens * top_k), 0.05f, 1.0f, 72);
    std::vector<int32_t> row_of_slot(size_t(tokens * top_k));
    for (size_t i = 0; i < row_of_slot.size(); ++i) row_of_slot[i] = int32_t((i * 7) % capacity);
    row_of_slot[5] = -1;  // token 1 has an invalid expert: NaN rows both ways
    const auto x = uniform_floats(size_t(tokens * hidden), -2.0f, 2.0f, 73);
    const auto norm = uniform_floats(size_t(hidden), 0.5f, 1.5f, 74);
    DeviceArray<float> d_out(expert_out), d_weights(weights), d_norm(norm), combined(size_t(tokens * hidden));
    DeviceArray<int32_t> d_rows(row_of_slot);
    DeviceArray<float> x_separate(x), x_fused(x), normed_separate(x.size()), normed_fused(x.size());
    DeviceArray<uint16_t> bf16_separate(x.size()), bf16_fused(x.size());

    moe_combine_forward({combined.get(), d_out.get(), d_weights.get(), d_rows.get(), tokens, capacity, int32_t(top_k),
                         int32_t(hidden)},
                        nullptr);
    RmsNormParams separate{normed_separate.get(), x_separate.get(), d_norm.get(), tokens, hidden, 1e-5f};
    separate.residual = combined.get();
    separate.sum = x_separate.get();
    separate.out_bf16 = bf16_separate.get();
    rmsnorm_forward(separate, nullptr);
    RmsNormParams fused{normed_fused.get(), x_fused.get(), d_norm.get(), tokens, hidden, 1e-5f};
    fused.sum = x_fused.get();
    fused.out_bf16 = bf16_fused.get();
    rmsnorm_forward(fused, {d_out.get(), d_weights.get(), d_rows.get(), capacity, int32_t(top_k)}, nullptr);
    R1_CUDA_CHECK(cudaDeviceSynchronize());

    auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
      return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
    };
    const auto sum = x_fused.to_host();
    CHECK(same_bits(sum, x_separate.to_host()));
    CHECK(same_bits(normed_fused.to_host(), normed_separate.to_host()));
    CHECK(bf16_fused.to_host() == bf16_separate.to_host());
    CHECK(std::isnan(sum[size_t(hidden) + 3]));  // token 1
    CHECK(!std::isnan(sum[3]));
  }
}
