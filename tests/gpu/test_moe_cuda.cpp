// rollout/cuda MoE router and permutation against their CPU references (route() and permute() in
// rollout/moe_routing.h): ids and rows exactly, weights within 1e-6. Validation runs without a
// device; the GPU cases pass, saying they skipped, where there is none.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "rollout/cuda/cuda_check.h"
#include "tests/gpu/cuda_test_support.h"
#include "rollout/cuda/moe_permute.h"
#include "rollout/cuda/moe_router.h"
#include "rollout/moe_routing.h"

using namespace r1::rollout;
using namespace r1::rollout::kernels;
using r1::gpu_test::DeviceArray;

namespace {

// Logits on a grid, offset + step * level for level in [low, high]: many exact ties (the tie rule
// is exercised) and distinct values far apart. The kernel's expf and the host's may differ in the
// last bits; on such a grid that cannot reorder distinct values, while equal inputs give equal
// scores on each side.
struct Grid {
  float step, offset;
  int low, high;
};
constexpr Grid kSoftmaxGrid{0.125f, 0.0f, -32, 32};  // distinct scores differ by a factor e^(1/8)
// Off-centre, so that no two logits x, -x meet: sigmoid(x) + sigmoid(-x) = 1 would make group
// sums of different experts equal in exact arithmetic and a coin toss in fp32.
constexpr Grid kSigmoidGrid{0.5f, 0.125f, -6, 5};
const std::vector<float> kBiasLevels = {-0.1f, 0.0f, 0.1f};

std::vector<float> on_grid(size_t count, const Grid& grid, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> level(grid.low, grid.high);
  std::vector<float> values(count);
  for (auto& value : values) value = grid.offset + grid.step * float(level(rng));
  return values;
}

// A correction bias from kBiasLevels, one value per group (per expert without groups). Constant
// within a group, so that two groups' top-2 sums are equal in exact arithmetic only when they add
// the same two scores and bias (then equal in fp32 too); with a bias per expert, swapping the
// biases of two experts would give equal sums, rounded differently on each side.
std::vector<float> group_bias(int64_t experts, int64_t n_group, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, kBiasLevels.size() - 1);
  std::vector<float> bias(static_cast<size_t>(experts));
  const int64_t per_group = n_group > 1 ? experts / n_group : 1;
  for (int64_t e = 0; e < experts; e += per_group) std::fill_n(bias.begin() + e, per_group, kBiasLevels[pick(rng)]);
  return bias;
}

// The smallest gap, in exact (double) arithmetic, between any two different choice values
// sigmoid(x) + b (and the 0 of a dropped expert), and between any two different group scores
// sigmoid(x) + sigmoid(y) + 2b, over the grid and biases. The GPU comparison is exact only if
// this dwarfs fp32 rounding; two different terms with equal values give a gap of ~0.
double smallest_gap_of_sigmoid_grid(const Grid& grid, const std::vector<float>& biases) {
  std::vector<double> sigmoid;
  for (int l = grid.low; l <= grid.high; ++l)
    sigmoid.push_back(1.0 / (1.0 + std::exp(-(double(grid.offset) + double(grid.step) * l))));
  std::vector<double> values = {0.0}, sums;
  for (const float b : biases) {
    for (size_t i = 0; i < sigmoid.size(); ++i) {
      values.push_back(sigmoid[i] + b);
      for (size_t j = i; j < sigmoid.size(); ++j) sums.push_back(sigmoid[i] + sigmoid[j] + 2.0 * b);
    }
  }
  double gap = 1.0;
  for (auto* terms : {&values, &sums}) {
    std::sort(terms->begin(), terms->end());
    for (size_t i = 1; i < terms->size(); ++i) gap = std::min(gap, (*terms)[i] - (*terms)[i - 1]);
  }
  return gap;
}

MoeRouterParams router_params(const RouterConfig& c) {
  MoeRouterParams p{};
  p.num_experts = int32_t(c.num_experts);
  p.top_k = int32_t(c.top_k);
  p.n_group = int32_t(c.n_group);
  p.topk_group = int32_t(c.topk_group);
  p.sigmoid = c.scoring == RouterScoring::sigmoid;
  p.norm_topk_prob = c.norm_topk_prob;
  p.routed_scaling_factor = float(c.routed_scaling_factor);
  return p;
}

RouterConfig router(int64_t experts, int64_t top_k, RouterScoring scoring, int64_t n_group = 1,
                    int64_t topk_group = 1, bool norm = false, double scale = 1.0) {
  RouterConfig c;
  c.num_experts = experts;
  c.top_k = top_k;
  c.scoring = scoring;
  c.n_group = n_group;
  c.topk_group = topk_group;
  c.norm_topk_prob = norm;
  c.routed_scaling_factor = scale;
  return c;
}

// The kernel's routing of `logits` on the device.
Routing route_on_device(const RouterConfig& config, const std::vector<float>& logits, int64_t tokens) {
  const size_t slots = size_t(tokens * config.top_k);
  DeviceArray<float> logits_dev(logits), weights_dev(slots);
  DeviceArray<int32_t> ids_dev(slots);
  DeviceArray<float> bias_dev(config.correction_bias.empty() ? std::vector<float>{0.0f} : config.correction_bias);
  MoeRouterParams p = router_params(config);
  p.expert_ids = ids_dev.get();
  p.weights = weights_dev.get();
  p.logits = logits_dev.get();
  p.correction_bias = config.correction_bias.empty() ? nullptr : bias_dev.get();
  p.tokens = tokens;
  moe_router_forward(p, nullptr);
  R1_CUDA_CHECK(cudaDeviceSynchronize());
  Routing out;
  out.tokens = tokens;
  out.top_k = config.top_k;
  out.expert_ids = ids_dev.to_host();
  out.weights = weights_dev.to_host();
  return out;
}

// The kernel's permutation of `expert_ids`, into a buffer of `extra_rows` more than the bound
// (as the engine's, sized for its largest batch).
ExpertPermutation permute_on_device(const Routing& routing, int64_t experts, int64_t tile, int64_t extra_rows = 0) {
  const int64_t slots = routing.tokens * routing.top_k;
  ExpertPermutation out;
  out.tokens = routing.tokens;
  out.top_k = routing.top_k;
  out.num_experts = experts;
  out.tile = tile;
  out.capacity = slots + experts * (tile - 1) + extra_rows;
  DeviceArray<int32_t> ids_dev(routing.expert_ids);
  DeviceArray<int32_t> counts_dev{size_t(experts)}, offsets_dev{size_t(experts + 1)};
  DeviceArray<int32_t> row_dev{size_t(slots)}, slot_dev{size_t(out.capacity)};
  DeviceArray<char> workspace(moe_permute_workspace_bytes(slots, int32_t(experts)));
  MoePermuteParams p{};
  p.counts = counts_dev.get();
  p.offsets = offsets_dev.get();
  p.row_of_slot = row_dev.get();
  p.slot_of_row = slot_dev.get();
  p.workspace = workspace.get();
  p.expert_ids = ids_dev.get();
  p.tokens = routing.tokens;
  p.top_k = int32_t(routing.top_k);
  p.num_experts = int32_t(experts);
  p.tile = int32_t(tile);
  p.capacity = out.capacity;
  moe_permute_forward(p, nullptr);
  R1_CUDA_CHECK(cudaDeviceSynchronize());
  out.counts = counts_dev.to_host();
  out.offsets = offsets_dev.to_host();
  out.row_of_slot = row_dev.to_host();
  out.slot_of_row = slot_dev.to_host();
  return out;
}

}  // namespace

TEST_CASE("the test grids keep distinct router values far apart (the exact GPU comparison's premise)") {
  // Computed on the host, so it also runs without a device: 2.9e-4 for these grids.
  CHECK(smallest_gap_of_sigmoid_grid(kSigmoidGrid, kBiasLevels) > 1e-5);
  // The same grid centred on 0 would not do (sigmoid(x) + sigmoid(-x) = 1): the check can fail.
  CHECK(smallest_gap_of_sigmoid_grid({0.5f, 0.0f, -6, 6}, kBiasLevels) < 1e-5);
}

TEST_CASE("moe_router_forward refuses bad parameters before touching the device") {
  float value = 0.0f;
  int32_t id = 0;
  MoeRouterParams good = router_params(router(8, 2, RouterScoring::sigmoid, 4, 2));
  good.expert_ids = &id;
  good.weights = &value;
  good.logits = &value;
  good.tokens = 1;
  auto refused = [&](auto change, const char* text) {
    MoeRouterParams p = good;
    change(p);
    CAPTURE(text);
    CHECK_THROWS_WITH_AS(moe_router_forward(p, nullptr), doctest::Contains(text), r1::InternalError);
  };
  refused([](auto& p) { p.tokens = -1; }, "moe_router: tokens");
  refused([](auto& p) { p.num_experts = 0; }, "moe_router: num_experts");
  refused([](auto& p) { p.num_experts = kMoeRouterMaxExperts + 4; }, "moe_router: num_experts");
  refused([](auto& p) { p.top_k = 0; }, "moe_router: top_k");
  refused([](auto& p) { p.top_k = 9; }, "moe_router: top_k");
  refused([](auto& p) { p.n_group = 3; }, "moe_router: n_group");
  refused([](auto& p) { p.topk_group = 5; }, "moe_router: topk_group");
  refused([](auto& p) { p.top_k = 5; }, "moe_router: topk_group");  // 2 kept groups of 2
  refused([](auto& p) { p.n_group = 8; }, "moe_router: sigmoid groups");
  refused([](auto& p) { p.routed_scaling_factor = NAN; }, "moe_router: routed_scaling_factor");
  refused([](auto& p) { p.logits = nullptr; }, "moe_router: logits is null");
  refused([](auto& p) { p.weights = nullptr; }, "moe_router: expert_ids or weights is null");
  MoeRouterParams empty = good;  // an empty batch is valid and launches nothing
  empty.tokens = 0;
  empty.logits = nullptr;
  CHECK_NOTHROW(moe_router_forward(empty, nullptr));
}

TEST_CASE("moe_permute_forward refuses bad parameters before touching the device") {
  CHECK(moe_permute_workspace_bytes(0, 8) == 0);
  CHECK(moe_permute_workspace_bytes(256, 8) == 8 * sizeof(int32_t));      // one chunk
  CHECK(moe_permute_workspace_bytes(257, 8) == 2 * 8 * sizeof(int32_t));  // two
  int32_t dummy[64] = {};
  MoePermuteParams good{};
  good.counts = good.offsets = good.row_of_slot = good.slot_of_row = dummy;
  good.workspace = dummy;
  good.expert_ids = dummy;
  good.tokens = 2;
  good.top_k = 2;
  good.num_experts = 4;
  good.tile = 4;
  good.capacity = permuted_capacity(2, 2, 4, 4);  // the CPU side's bound: 4 + 4 * 3 = 16
  CHECK(good.capacity == 16);
  auto refused = [&](auto change, const char* text) {
    MoePermuteParams p = good;
    change(p);
    CAPTURE(text);
    CHECK_THROWS_WITH_AS(moe_permute_forward(p, nullptr), doctest::Contains(text), r1::InternalError);
  };
  refused([](auto& p) { p.tokens = -1; }, "moe_permute: tokens");
  refused([](auto& p) { p.top_k = 0; }, "moe_permute: top_k");
  refused([](auto& p) { p.num_experts = 0; }, "moe_permute: num_experts");
  refused([](auto& p) { p.tile = 0; }, "moe_permute: tile");
  refused([](auto& p) { p.capacity = 15; }, "moe_permute: capacity");
  refused([](auto& p) { p.capacity = int64_t(1) << 31; }, "moe_permute: capacity");
  refused([](auto& p) { p.counts = nullptr; }, "moe_permute: counts or offsets is null");
  refused([](auto& p) { p.slot_of_row = nullptr; }, "moe_permute: slot_of_row is null");
  refused([](auto& p) { p.expert_ids = nullptr; }, "moe_permute: expert_ids or row_of_slot is null");
  refused([](auto& p) { p.workspace = nullptr; }, "moe_permute: workspace is null");
}

TEST_CASE("gpu: moe_router_forward matches route()") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  struct Case {
    const char* name;
    RouterConfig config;
    bool bias;
  };
  const std::vector<Case> cases = {
      {"softmax top-2 of 8", router(8, 2, RouterScoring::softmax), false},
      {"softmax top-8 of 128, renormalised (Qwen3-MoE)", router(128, 8, RouterScoring::softmax, 1, 1, true), false},
      {"softmax, groups by best, scaled (DeepSeek-V2)", router(160, 6, RouterScoring::softmax, 8, 3, false, 16.0), false},
      {"sigmoid, bias, groups by top-2, renormalised, scaled (DeepSeek-V3)",
       router(256, 8, RouterScoring::sigmoid, 8, 4, true, 2.5), true},
      {"sigmoid, bias, no groups, the largest sizes", router(kMoeRouterMaxExperts, kMoeRouterMaxTopK, RouterScoring::sigmoid),
       true},
  };
  uint32_t seed = 100;
  for (const auto& c : cases) {
    for (const int64_t tokens : {1, 7, 1000}) {
      CAPTURE(c.name);
      CAPTURE(tokens);
      RouterConfig config = c.config;
      const bool sigmoid = config.scoring == RouterScoring::sigmoid;
      const auto logits = on_grid(size_t(tokens * config.num_experts), sigmoid ? kSigmoidGrid : kSoftmaxGrid, ++seed);
      if (c.bias) config.correction_bias = group_bias(config.num_experts, config.n_group, ++seed);
      const Routing want = route(config, logits, tokens);
      const Routing got = route_on_device(config, logits, tokens);
      int64_t id_mismatches = 0;
      double worst = 0.0;
      for (size_t i = 0; i < want.expert_ids.size(); ++i) {
        id_mismatches += got.expert_ids[i] != want.expert_ids[i];
        worst = std::max(worst, std::abs(double(got.weights[i]) - double(want.weights[i])));
      }
      CHECK(id_mismatches == 0);
      CHECK(worst < 1e-6);
    }
  }
}

TEST_CASE("gpu: moe_permute_forward matches permute() exactly") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  uint32_t seed = 200;
  // One launch up to 256 slots and 1024 experts (blocks of 256 threads, and of 1024 for 1024
  // experts); the chunked kernels above either bound.
  for (const int64_t experts : {8, 256, 1024, 1025}) {
    for (const int64_t tokens : {0, 1, 5, 32, 33, 3000}) {
      const int64_t top_k = experts == 8 ? 2 : 8;
      const RouterConfig config = router(experts, top_k, RouterScoring::softmax);
      const Routing routed = route(config, on_grid(size_t(tokens * experts), kSoftmaxGrid, ++seed), tokens);
      Routing one_expert = routed;  // every slot on expert 3: one long segment over many chunks
      std::fill(one_expert.expert_ids.begin(), one_expert.expert_ids.end(), 3);
      for (const Routing* routing : std::vector<const Routing*>{&routed, &one_expert}) {
        for (const int64_t tile : {1, 16, 128}) {
          CAPTURE(experts);
          CAPTURE(tokens);
          CAPTURE(tile);
          CAPTURE(routing == &one_expert);
          const ExpertPermutation want = permute(*routing, experts, tile);
          const ExpertPermutation got = permute_on_device(*routing, experts, tile, /*extra_rows=*/100);
          CHECK(got.counts == want.counts);
          CHECK(got.offsets == want.offsets);
          CHECK(got.row_of_slot == want.row_of_slot);
          REQUIRE(got.slot_of_row.size() == want.slot_of_row.size() + 100);
          CHECK(std::equal(want.slot_of_row.begin(), want.slot_of_row.end(), got.slot_of_row.begin()));
          CHECK(std::all_of(got.slot_of_row.end() - 100, got.slot_of_row.end(), [](int32_t s) { return s == -1; }));
        }
      }
    }
  }
}

TEST_CASE("gpu: moe_permute_forward leaves out-of-range ids out, writing nothing for them") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  Routing r;
  r.tokens = 2;
  r.top_k = 2;
  r.expert_ids = {0, 9, -1, 0};
  const auto got = permute_on_device(r, 4, 1);
  CHECK(got.counts == std::vector<int32_t>{2, 0, 0, 0});
  CHECK(got.offsets == std::vector<int32_t>{0, 2, 2, 2, 2});
  CHECK(got.row_of_slot == std::vector<int32_t>{0, -1, -1, 1});
  CHECK(got.slot_of_row == std::vector<int32_t>{0, 3, -1, -1});

  // The same over more than one chunk of 256 slots (the chunked kernels): ids -1 .. 4 of 4 experts.
  Routing many;
  many.tokens = 600;
  many.top_k = 1;
  for (int64_t s = 0; s < many.tokens; ++s) many.expert_ids.push_back(int32_t(s % 6) - 1);
  const auto chunked = permute_on_device(many, 4, 1);
  std::vector<int32_t> counts(4, 0), offsets(5, 0), rows(600, -1), slots(600, -1);
  for (int32_t id : many.expert_ids)
    if (id >= 0 && id < 4) ++counts[size_t(id)];
  for (size_t e = 0; e < 4; ++e) offsets[e + 1] = offsets[e] + counts[e];
  std::vector<int32_t> seen(4, 0);
  for (size_t s = 0; s < 600; ++s) {
    const int32_t id = many.expert_ids[s];
    if (id < 0 || id >= 4) continue;
    rows[s] = offsets[size_t(id)] + seen[size_t(id)]++;
    slots[size_t(rows[s])] = int32_t(s);
  }
  CHECK(chunked.counts == counts);
  CHECK(chunked.offsets == offsets);
  CHECK(chunked.row_of_slot == rows);
  CHECK(chunked.slot_of_row == slots);
}

TEST_CASE("gpu: router then permutation, run twice, give identical bits") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  RouterConfig config = router(256, 8, RouterScoring::sigmoid, 8, 4, true, 2.5);
  config.correction_bias = group_bias(256, 8, 301);
  const int64_t tokens = 20000;  // 160000 slots: 625 chunks
  const auto logits = on_grid(size_t(tokens * 256), kSigmoidGrid, 302);
  const Routing first = route_on_device(config, logits, tokens), second = route_on_device(config, logits, tokens);
  CHECK(first.expert_ids == second.expert_ids);
  CHECK(first.weights == second.weights);  // bitwise: no reduction depends on the schedule
  const auto a = permute_on_device(first, 256, 64), b = permute_on_device(first, 256, 64);
  CHECK(a.row_of_slot == b.row_of_slot);
  CHECK(a.slot_of_row == b.slot_of_row);
  CHECK(a.row_of_slot == permute(first, 256, 64).row_of_slot);
}
