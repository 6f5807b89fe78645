// The grouped expert feed-forward's reference (rollout/expert_ffn.h) between permute() and
// combine() (rollout/moe_routing.h) against the policy's own MoE layer (MoeImpl::forward) on the
// Qwen3-MoE and Mixtral fixtures, at permutation tiles 1, 4 and 16; padding rows stay zero; errors.
#include "tests/doctest_torch.h"

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "policy/transformer.h"
#include "rollout/expert_ffn.h"
#include "rollout/moe_routing.h"
#include "tests/rollout/hf_fixture_models.h"

using namespace r1::rollout;
using r1::test::hf_fixture_config;

namespace {

std::vector<float> to_vector(const torch::Tensor& t) {
  const auto flat = t.to(torch::kFloat32).contiguous().view(-1);
  return {flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel()};
}

// The experts' weights stacked as the engine packs them: [E][out][in] for gate, up and down.
struct StackedExperts {
  std::vector<float> gate, up, down;
};
StackedExperts stack_experts(r1::policy::Moe& moe) {
  std::vector<torch::Tensor> gate, up, down;
  for (const auto& module : *moe->experts) {
    auto* mlp = module->as<r1::policy::Mlp>();
    gate.push_back(mlp->gate_proj->weight);
    up.push_back(mlp->up_proj->weight);
    down.push_back(mlp->down_proj->weight);
  }
  return {to_vector(torch::stack(gate)), to_vector(torch::stack(up)), to_vector(torch::stack(down))};
}

}  // namespace

TEST_CASE("expert FFN reference between permute and combine reproduces the policy's MoE layer") {
  torch::NoGradGuard no_grad;
  for (const char* family : {"qwen3_moe", "mixtral"}) {
    CAPTURE(family);
    torch::manual_seed(7);
    const auto model = hf_fixture_config(family);
    REQUIRE(model.shared_intermediate() == 0);  // routed experts only: the whole layer is this path
    r1::policy::Moe moe(model);
    const int64_t tokens = 29, hidden = model.hidden_size;
    const auto x = torch::randn({tokens, hidden});
    const auto want = moe->forward(x, nullptr);
    const auto [index, weight] = moe->route(x);
    Routing routing{tokens, model.num_experts_per_token, {}, to_vector(weight)};
    for (const int64_t e : std::vector<int64_t>(index.data_ptr<int64_t>(), index.data_ptr<int64_t>() + index.numel()))
      routing.expert_ids.push_back(int32_t(e));
    const StackedExperts w = stack_experts(moe);
    const ExpertFfnShape shape{model.num_experts, hidden, model.expert_intermediate_size};
    for (const int64_t tile : {1, 4, 16}) {
      CAPTURE(tile);
      const ExpertPermutation perm = permute(routing, model.num_experts, tile);
      const auto h = expert_swiglu_reference(perm, to_vector(x), w.gate, w.up, shape);
      const auto y = expert_down_reference(perm, h, w.down, shape);
      const auto got = torch::tensor(combine(perm, routing, y, hidden)).view({tokens, hidden});
      CHECK((got - want).abs().max().item<double>() < 1e-5);
      int64_t padding_rows = 0;
      bool padding_zero = true;
      for (int64_t r = 0; r < perm.capacity; ++r) {
        if (perm.slot_of_row[size_t(r)] >= 0) continue;
        ++padding_rows;
        for (int64_t d = 0; d < hidden; ++d) padding_zero = padding_zero && y[size_t(r * hidden + d)] == 0.0f;
      }
      CHECK(padding_zero);
      if (tile > 1) CHECK(padding_rows > 0);
    }
    CHECK(want.abs().max().item<double>() > 0.01);
  }
}

TEST_CASE("expert FFN reference refuses a bad shape or array, naming it") {
  Routing routing{2, 1, {0, 1}, {1.0f, 1.0f}};
  const ExpertPermutation perm = permute(routing, 2, 4);
  const ExpertFfnShape shape{2, 3, 5};
  const std::vector<float> x(6, 1.0f), w(2 * 5 * 3, 0.5f);
  CHECK(expert_swiglu_reference(perm, x, w, w, shape).size() == size_t(perm.capacity * 5));
  CHECK_THROWS_WITH_AS(expert_swiglu_reference(perm, x, w, w, {2, 3, 0}), doctest::Contains("intermediate = 0"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(expert_swiglu_reference(perm, x, w, w, {3, 3, 5}),
                       doctest::Contains("the permutation has 2 experts, the weights 3"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(expert_swiglu_reference(perm, std::vector<float>(5), w, w, shape),
                       doctest::Contains("x holds 5 values, expected 6"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(expert_down_reference(perm, std::vector<float>(3), w, shape),
                       doctest::Contains("h holds 3 values"), std::invalid_argument);
}
