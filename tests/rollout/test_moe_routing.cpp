// The rollout engine's MoE routing and permutation (rollout/moe_routing.h): route() against the
// policy's own LibTorch router (MoeImpl::route) on the same logits for each router family, the tie
// rule and the group mask by hand, the expert-major permutation's invariants and padding bound,
// permute -> per-expert linear -> combine against the dense computation, and the errors.
#include "tests/doctest_torch.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/model_config.h"
#include "policy/transformer.h"
#include "rollout/moe_routing.h"
#include "tests/random_values.h"
#include "tests/rollout/hf_fixture_models.h"

using namespace r1::rollout;
using r1::policy::ModelConfig;

namespace {

using r1::test::uniform_floats;
using r1::test::hf_fixture_config;

// The policy's routing of `logits` [tokens x E]: an MoE layer whose gate is the identity over a
// hidden size of E, so that the gate's logits are exactly `logits` (x * 1 + 0s is exact in fp32).
struct PolicyRouting {
  std::vector<int64_t> ids;
  std::vector<float> weights;
};
PolicyRouting policy_route(ModelConfig config, const std::vector<float>& logits, int64_t tokens,
                           const std::vector<float>& bias = {}) {
  const int64_t experts = config.num_experts;
  config.hidden_size = experts;
  r1::policy::Moe moe(config);
  torch::NoGradGuard no_grad;
  moe->gate->weight.copy_(torch::eye(experts));
  if (!bias.empty()) moe->gate->e_score_correction_bias.copy_(torch::tensor(bias));
  auto x = torch::tensor(logits).view({tokens, experts});
  auto [index, weight] = moe->route(x);
  REQUIRE(index.sizes() == torch::IntArrayRef{tokens, config.num_experts_per_token});
  index = index.contiguous();
  weight = weight.to(torch::kFloat32).contiguous();
  PolicyRouting out;
  out.ids.assign(index.data_ptr<int64_t>(), index.data_ptr<int64_t>() + index.numel());
  out.weights.assign(weight.data_ptr<float>(), weight.data_ptr<float>() + weight.numel());
  return out;
}

// route() against the policy on the same logits: the same experts in the same order, weights
// within 1e-6. Returns our routing for further checks.
Routing check_against_policy(const ModelConfig& model, const std::vector<float>& logits, int64_t tokens,
                             const std::vector<float>& bias = {}) {
  const Routing ours = route(router_config(model, bias), logits, tokens);
  const PolicyRouting theirs = policy_route(model, logits, tokens, bias);
  REQUIRE(ours.expert_ids.size() == theirs.ids.size());
  int64_t id_mismatches = 0;
  double worst = 0.0;
  for (size_t i = 0; i < theirs.ids.size(); ++i) {
    id_mismatches += ours.expert_ids[i] != theirs.ids[i];
    worst = std::max(worst, std::abs(double(ours.weights[i]) - double(theirs.weights[i])));
  }
  CHECK(id_mismatches == 0);
  CHECK(worst < 1e-6);
  return ours;
}

// How many tokens' expert lists differ between two routings.
int64_t tokens_routed_differently(const Routing& a, const Routing& b) {
  int64_t differ = 0;
  for (int64_t t = 0; t < a.tokens; ++t) {
    differ += !std::equal(a.expert_ids.begin() + t * a.top_k, a.expert_ids.begin() + (t + 1) * a.top_k,
                          b.expert_ids.begin() + t * b.top_k);
  }
  return differ;
}

RouterConfig softmax_router(int64_t experts, int64_t top_k) {
  RouterConfig config;
  config.num_experts = experts;
  config.top_k = top_k;
  return config;
}

}  // namespace

TEST_CASE("route equals the policy's softmax top-k (Qwen3-MoE), with and without norm_topk_prob") {
  const int64_t tokens = 64, experts = 16;
  const auto logits = uniform_floats(size_t(tokens * experts), -3.0f, 3.0f, 11);
  for (const bool norm : {false, true}) {
    CAPTURE(norm);
    const auto model = hf_fixture_config(
        "qwen3_moe", {{"num_local_experts", experts}, {"num_experts_per_tok", 4}, {"norm_topk_prob", norm}});
    REQUIRE(model.router_score == "softmax");
    const Routing ours = check_against_policy(model, logits, tokens);
    // The weights really are what the flag says: renormalised to 1, or softmax mass below 1.
    double sum0 = 0.0;
    for (int64_t s = 0; s < 4; ++s) sum0 += ours.weights[s];
    if (norm) CHECK(sum0 == doctest::Approx(1.0).epsilon(1e-6));
    else CHECK(sum0 < 0.99);
  }
}

TEST_CASE("route equals the policy's DeepSeek-V3 router: sigmoid, correction bias, groups, scaling") {
  const int64_t tokens = 96, experts = 32;
  // sigmoid(-2.5) = 0.076 > 0.05: every biased score is positive, so the dropped groups' zeros
  // never tie with a kept expert (torch.topk's order among equal values is unspecified).
  const auto logits = uniform_floats(size_t(tokens * experts), -2.5f, 2.5f, 21);
  const auto bias = uniform_floats(size_t(experts), -0.05f, 0.05f, 22);
  for (const bool norm : {true, false}) {
    CAPTURE(norm);
    const auto model = hf_fixture_config("deepseek_v3", {{"n_routed_experts", experts},
                                                     {"num_experts_per_tok", 4},
                                                     {"n_group", 4},
                                                     {"topk_group", 2},
                                                     {"routed_scaling_factor", 2.5},
                                                     {"norm_topk_prob", norm}});
    REQUIRE(model.router_score == "sigmoid");
    REQUIRE(model.router_correction_bias);
    const Routing ours = check_against_policy(model, logits, tokens, bias);
    if (norm) {  // renormalised, then scaled: each token's weights sum to routed_scaling_factor
      double sum0 = 0.0;
      for (int64_t s = 0; s < 4; ++s) sum0 += ours.weights[s];
      CHECK(sum0 == doctest::Approx(2.5).epsilon(1e-6));
    }

    // Each part of the rule changes the answer on this data, so the comparison above tests it.
    RouterConfig no_bias = router_config(model, bias);
    no_bias.correction_bias.clear();
    CHECK(tokens_routed_differently(ours, route(no_bias, logits, tokens)) > 0);
    RouterConfig no_groups = router_config(model, bias);
    no_groups.n_group = no_groups.topk_group = 1;
    CHECK(tokens_routed_differently(ours, route(no_groups, logits, tokens)) > 0);
  }
}

TEST_CASE("route equals the policy's DeepSeek-V2 softmax routers: greedy and group_limited_greedy") {
  const int64_t tokens = 64, experts = 16;
  const auto logits = uniform_floats(size_t(tokens * experts), -3.0f, 3.0f, 31);
  for (const std::string method : {"greedy", "group_limited_greedy"}) {
    CAPTURE(method);
    const auto model = hf_fixture_config("deepseek_v2", {{"n_routed_experts", experts},
                                                     {"num_experts_per_tok", 3},
                                                     {"topk_method", method},
                                                     {"n_group", 4},
                                                     {"topk_group", 2},
                                                     {"routed_scaling_factor", 2.0}});
    const Routing ours = check_against_policy(model, logits, tokens);
    CHECK(router_config(model).n_group == (method == "greedy" ? 1 : 4));
    if (method == "group_limited_greedy") {
      RouterConfig greedy = router_config(model);
      greedy.n_group = greedy.topk_group = 1;
      CHECK(tokens_routed_differently(ours, route(greedy, logits, tokens)) > 0);
    }
  }
}

TEST_CASE("route by hand: ties go to the lower id, weights follow the flags") {
  // logits [1, 2, 2, 0]: experts 1 and 2 tie; the lower id is listed first.
  auto config = softmax_router(4, 2);
  const double e = std::exp(1.0), denominator = e + 2 * e * e + 1;  // softmax's sum, over exp(x - 0)
  Routing r = route(config, {1.0f, 2.0f, 2.0f, 0.0f}, 1);
  CHECK(r.expert_ids == std::vector<int32_t>{1, 2});
  CHECK(r.weights[0] == doctest::Approx(e * e / denominator).epsilon(1e-6));  // 0.4223
  CHECK(r.weights[1] == doctest::Approx(e * e / denominator).epsilon(1e-6));

  // All equal: the first k ids; 1/4 each, 1/3 once renormalised, 2/3 once scaled by 2.
  config.top_k = 3;
  r = route(config, {0.5f, 0.5f, 0.5f, 0.5f}, 1);
  CHECK(r.expert_ids == std::vector<int32_t>{0, 1, 2});
  CHECK(r.weights[2] == doctest::Approx(0.25).epsilon(1e-6));
  config.norm_topk_prob = true;
  config.routed_scaling_factor = 2.0;
  r = route(config, {0.5f, 0.5f, 0.5f, 0.5f}, 1);
  for (const float weight : r.weights) CHECK(weight == doctest::Approx(2.0 / 3.0).epsilon(1e-6));

  // The bias only chooses: expert 3 (lowest logit) is picked, with its unbiased score as weight.
  RouterConfig sigmoid = softmax_router(4, 1);
  sigmoid.scoring = RouterScoring::sigmoid;
  sigmoid.correction_bias = {0.0f, 0.0f, 0.0f, 1.0f};
  r = route(sigmoid, {1.0f, 0.5f, 0.0f, -1.0f}, 1);
  CHECK(r.expert_ids == std::vector<int32_t>{3});
  CHECK(r.weights[0] == doctest::Approx(1.0 / (1.0 + std::exp(1.0))).epsilon(1e-6));  // 0.2689
}

TEST_CASE("route by hand: V3 ranks groups by their top-2 sum, V2 by their best, dropped experts score 0") {
  // Group 0 holds the single best expert; group 1 the better pair.
  const std::vector<float> logits = {4.0f, -4.0f, -4.0f, -4.0f, 2.0f, 2.0f, -4.0f, -4.0f};
  RouterConfig config = softmax_router(8, 2);
  config.n_group = 2;
  config.topk_group = 1;
  config.scoring = RouterScoring::sigmoid;  // sums: 0.982 + 0.018 = 1.0 < 0.881 + 0.881 = 1.76
  CHECK(route(config, logits, 1).expert_ids == std::vector<int32_t>{4, 5});
  config.scoring = RouterScoring::softmax;  // maxima: expert 0's group wins, then its next best
  CHECK(route(config, logits, 1).expert_ids == std::vector<int32_t>{0, 1});

  // Biased scores below 0 in the kept group lose to the dropped group's zeros, as in the policy.
  // choice = sigmoid(logit) - 1 = [-0.119, -0.269 | -0.5, -0.5]: group 0 is kept (-0.388 > -1),
  // group 1 set to [0, 0], which then outranks everything; its tie goes to the lower id.
  RouterConfig quirk = softmax_router(4, 2);
  quirk.scoring = RouterScoring::sigmoid;
  quirk.n_group = 2;
  quirk.topk_group = 1;
  quirk.correction_bias = {-1.0f, -1.0f, -1.0f, -1.0f};
  const std::vector<float> quirk_logits = {2.0f, 1.0f, 0.0f, 0.0f};
  const Routing r = route(quirk, quirk_logits, 1);
  CHECK(r.expert_ids == std::vector<int32_t>{2, 3});
  CHECK(r.weights == std::vector<float>{0.5f, 0.5f});  // sigmoid(0), unbiased
  auto model = hf_fixture_config("deepseek_v3", {{"n_routed_experts", 4},
                                             {"num_experts_per_tok", 2},
                                             {"n_group", 2},
                                             {"topk_group", 1},
                                             {"norm_topk_prob", false},
                                             {"routed_scaling_factor", 1.0}});
  const auto theirs = policy_route(model, quirk_logits, 1, quirk.correction_bias);
  CHECK(std::min(theirs.ids[0], theirs.ids[1]) == 2);  // the same set; torch's order of a tie is its own
  CHECK(std::max(theirs.ids[0], theirs.ids[1]) == 3);
}

TEST_CASE("router_config reads the policy's model config") {
  const auto v3 = hf_fixture_config("deepseek_v3", {{"n_routed_experts", 16}, {"n_group", 4}, {"topk_group", 2}});
  const std::vector<float> bias(16, 0.01f);
  const auto config = router_config(v3, bias);
  CHECK(config.scoring == RouterScoring::sigmoid);
  CHECK(config.num_experts == 16);
  CHECK(config.top_k == 2);
  CHECK(config.n_group == 4);
  CHECK(config.topk_group == 2);
  CHECK(config.norm_topk_prob);
  CHECK(config.routed_scaling_factor == 2.5);
  CHECK(config.correction_bias == bias);
  CHECK_THROWS_WITH_AS(router_config(v3), doctest::Contains("router_correction_bias"), std::invalid_argument);

  const auto qwen = hf_fixture_config("qwen3_moe", nlohmann::json::object());
  CHECK(router_config(qwen).scoring == RouterScoring::softmax);
  CHECK(router_config(qwen).n_group == 1);
  CHECK_THROWS_WITH_AS(router_config(qwen, {0.0f}), doctest::Contains("router_correction_bias"),
                       std::invalid_argument);
  ModelConfig dense = qwen;
  dense.num_experts = 0;
  CHECK_THROWS_WITH_AS(router_config(dense), doctest::Contains("num_experts"), std::invalid_argument);
}

TEST_CASE("a bad router config or input throws, naming the field") {
  RouterConfig good = softmax_router(8, 2);
  good.n_group = 4;
  good.topk_group = 2;
  CHECK_NOTHROW(good.validate());
  auto check_refused = [&](auto change, const std::string& field) {
    RouterConfig config = good;
    change(config);
    CAPTURE(field);
    CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains(("RouterConfig." + field + ":").c_str()), std::invalid_argument);
    CHECK_THROWS_AS(route(config, std::vector<float>(8, 0.0f), 1), std::invalid_argument);
  };
  check_refused([](RouterConfig& c) { c.num_experts = 0; }, "num_experts");
  check_refused([](RouterConfig& c) { c.top_k = 9; }, "top_k");
  check_refused([](RouterConfig& c) { c.top_k = 0; }, "top_k");
  check_refused([](RouterConfig& c) { c.n_group = 3; }, "n_group");  // does not divide 8
  check_refused([](RouterConfig& c) { c.n_group = 0; }, "n_group");
  check_refused([](RouterConfig& c) { c.topk_group = 5; }, "topk_group");
  check_refused([](RouterConfig& c) { c.topk_group = 0; }, "topk_group");
  check_refused([](RouterConfig& c) { c.top_k = 5; }, "topk_group");  // 2 groups of 2 hold 4 < 5
  check_refused(
      [](RouterConfig& c) {
        c.n_group = 8;  // groups of one expert, under sigmoid
        c.scoring = RouterScoring::sigmoid;
      },
      "n_group");
  check_refused([](RouterConfig& c) { c.routed_scaling_factor = 0.0; }, "routed_scaling_factor");
  check_refused([](RouterConfig& c) { c.routed_scaling_factor = NAN; }, "routed_scaling_factor");
  check_refused([](RouterConfig& c) { c.correction_bias = {1.0f}; }, "correction_bias");

  CHECK_THROWS_WITH_AS(route(good, std::vector<float>(15, 0.0f), 2), doctest::Contains("route.logits:"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(route(good, {}, -1), doctest::Contains("route.tokens:"), std::invalid_argument);
  CHECK(route(good, {}, 0).expert_ids.empty());  // no tokens: a valid, empty routing
}

TEST_CASE("permute by hand: expert-major, token order within an expert, segments padded to the tile") {
  Routing r;
  r.tokens = 3;
  r.top_k = 2;
  r.expert_ids = {2, 0, /**/ 0, 1, /**/ 2, 1};  // expert 3 gets nothing
  r.weights.assign(6, 0.5f);
  const auto p = permute(r, 4, 4);
  CHECK(p.counts == std::vector<int32_t>{2, 2, 2, 0});
  CHECK(p.offsets == std::vector<int32_t>{0, 4, 8, 12, 12});  // each 2 padded to 4; the empty one to 0
  CHECK(p.capacity == 6 + 4 * 3);
  // expert 0: slots 1 (t0) and 2 (t1); expert 1: slots 3 (t1), 5 (t2); expert 2: slots 0 (t0), 4 (t2).
  CHECK(p.row_of_slot == std::vector<int32_t>{8, 0, 1, 4, 9, 5});
  CHECK(p.slot_of_row ==
        std::vector<int32_t>{1, 2, -1, -1, 3, 5, -1, -1, 0, 4, -1, -1, -1, -1, -1, -1, -1, -1});

  const auto unpadded = permute(r, 4, 1);
  CHECK(unpadded.offsets == std::vector<int32_t>{0, 2, 4, 6, 6});
  CHECK(unpadded.capacity == 6);
  CHECK(unpadded.row_of_slot == std::vector<int32_t>{4, 0, 1, 2, 5, 3});
}

TEST_CASE("permute: every slot once, experts contiguous and in token order, padding within the bound") {
  const int64_t tokens = 257, experts = 16, top_k = 4;
  const auto routing = route(softmax_router(experts, top_k),
                             uniform_floats(size_t(tokens * experts), -2.0f, 2.0f, 41), tokens);
  // Extremes of the bound: every token on its own expert (the most padding), all on one expert.
  Routing spread;
  spread.tokens = experts;
  spread.top_k = 1;
  for (int32_t e = 0; e < experts; ++e) spread.expert_ids.push_back(e);
  Routing one = spread;
  one.expert_ids.assign(size_t(experts), 7);

  for (const Routing* r : std::vector<const Routing*>{&routing, &spread, &one}) {
    for (const int64_t tile : {1, 8, 64}) {
      CAPTURE(r->tokens);
      CAPTURE(tile);
      const auto p = permute(*r, experts, tile);
      const int64_t slots = r->tokens * r->top_k;
      REQUIRE(p.capacity == slots + experts * (tile - 1));
      REQUIRE(int64_t(p.slot_of_row.size()) == p.capacity);
      CHECK(p.offsets[0] == 0);
      CHECK(p.offsets[experts] <= p.capacity);

      std::vector<int> seen(size_t(slots), 0);
      int64_t counted = 0;
      for (int64_t e = 0; e < experts; ++e) {
        CHECK(p.offsets[e] % tile == 0);
        CHECK(p.offsets[e + 1] - p.offsets[e] == (p.counts[e] + tile - 1) / tile * tile);
        counted += p.counts[e];
        int64_t last_token = -1;
        for (int64_t row = p.offsets[e]; row < p.offsets[e + 1]; ++row) {
          const int32_t slot = p.slot_of_row[row];
          if (row >= p.offsets[e] + p.counts[e]) {  // the padding after the expert's rows
            CHECK(slot == -1);
            continue;
          }
          REQUIRE(slot >= 0);
          REQUIRE(slot < slots);
          ++seen[slot];
          CHECK(r->expert_ids[slot] == e);
          CHECK(p.row_of_slot[slot] == row);
          CHECK(slot / r->top_k > last_token);  // strictly increasing tokens
          last_token = slot / r->top_k;
        }
      }
      CHECK(counted == slots);
      CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
      for (int64_t row = p.offsets[experts]; row < p.capacity; ++row) CHECK(p.slot_of_row[row] == -1);
      // The spread routing pads every expert by tile - 1: the bound is reached, not just respected.
      if (r == &spread) CHECK(p.offsets[experts] == p.capacity);
      if (r == &one) CHECK(p.offsets[experts] == (experts + tile - 1) / tile * tile);
    }
  }
}

TEST_CASE("permute -> per-expert linear -> combine equals the dense per-token computation") {
  const int64_t tokens = 50, experts = 8, top_k = 3, hidden = 12, out_dim = 10, tile = 4;
  RouterConfig config = softmax_router(experts, top_k);
  config.norm_topk_prob = true;
  config.routed_scaling_factor = 1.5;
  const auto routing = route(config, uniform_floats(size_t(tokens * experts), -2.0f, 2.0f, 51), tokens);
  const auto x = uniform_floats(size_t(tokens * hidden), -1.0f, 1.0f, 52);
  const auto w = uniform_floats(size_t(experts * out_dim * hidden), -0.5f, 0.5f, 53);  // W_e: [out_dim x hidden]
  auto linear = [&](int64_t e, const float* in, float* into) {
    for (int64_t o = 0; o < out_dim; ++o) {
      float sum = 0.0f;
      for (int64_t h = 0; h < hidden; ++h) sum += w[(e * out_dim + o) * hidden + h] * in[h];
      into[o] = sum;
    }
  };

  const auto p = permute(routing, experts, tile);
  const auto permuted = gather_rows(p, x, hidden);
  REQUIRE(int64_t(permuted.size()) == p.capacity * hidden);
  std::vector<float> expert_out(size_t(p.capacity * out_dim), 0.0f);
  for (int64_t e = 0; e < experts; ++e) {
    // Whole tiles, padding included, as a grouped GEMM would: padding rows are 0 in, 0 out.
    for (int64_t row = p.offsets[e]; row < p.offsets[e + 1]; ++row)
      linear(e, permuted.data() + row * hidden, expert_out.data() + row * out_dim);
  }
  const auto got = combine(p, routing, expert_out, out_dim);

  double worst = 0.0, largest = 0.0;
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t o = 0; o < out_dim; ++o) {
      double want = 0.0;  // in double, straight from the definition
      for (int64_t s = 0; s < top_k; ++s) {
        const int64_t e = routing.expert_ids[t * top_k + s];
        double y = 0.0;
        for (int64_t h = 0; h < hidden; ++h) y += double(w[(e * out_dim + o) * hidden + h]) * x[t * hidden + h];
        want += double(routing.weights[t * top_k + s]) * y;
      }
      worst = std::max(worst, std::abs(double(got[t * out_dim + o]) - want));
      largest = std::max(largest, std::abs(want));
    }
  }
  CHECK(largest > 0.1);  // the outputs are not trivially zero
  CHECK(worst < 1e-5);
}

TEST_CASE("permute, gather_rows and combine refuse bad inputs, naming the field") {
  Routing r;
  r.tokens = 2;
  r.top_k = 2;
  r.expert_ids = {0, 1, 1, 3};
  r.weights = {0.5f, 0.5f, 0.5f, 0.5f};
  CHECK_THROWS_WITH_AS(permute(r, 4, 0), doctest::Contains("permute.tile:"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(permute(r, 3, 1), doctest::Contains("permute.expert_ids: slot 3 names expert 3"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(permute(r, 0, 1), doctest::Contains("permute.num_experts:"), std::invalid_argument);
  Routing short_ids = r;
  short_ids.expert_ids.pop_back();
  CHECK_THROWS_WITH_AS(permute(short_ids, 4, 1), doctest::Contains("permute.expert_ids:"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(permuted_capacity(int64_t(1) << 30, 8, 256, 128), doctest::Contains("permute.capacity:"),
                       std::invalid_argument);
  CHECK(permuted_capacity(0, 8, 256, 128) == 256 * 127);

  const auto p = permute(r, 4, 2);
  CHECK_THROWS_WITH_AS(gather_rows(p, std::vector<float>(5), 3), doctest::Contains("gather_rows.x:"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(combine(p, r, std::vector<float>(size_t(p.capacity * 3 - 1)), 3),
                       doctest::Contains("combine.expert_out:"), std::invalid_argument);
  Routing other = r;
  other.weights.pop_back();
  CHECK_THROWS_WITH_AS(combine(p, other, std::vector<float>(size_t(p.capacity * 3)), 3),
                       doctest::Contains("combine.routing:"), std::invalid_argument);
}
