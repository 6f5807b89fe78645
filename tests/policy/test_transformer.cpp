// The policy model: shape, causality, KV-cache and padding equivalence, MoE routing and its loss.
#include "tests/doctest_torch.h"

#include "common/error.h"

#include "policy/model_config.h"
#include "policy/transformer.h"

using namespace r1::policy;

namespace {
ModelConfig small_config(bool moe = true) {
  auto c = preset_config(moe ? "tiny" : "tiny-dense");
  c.vocab_size = 266;
  c.max_position = 64;
  return c;
}
double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }
}  // namespace

TEST_CASE("the tiny preset has 1-5M parameters and HF checkpoint names") {
  torch::manual_seed(0);
  CausalLM model(small_config());
  CHECK(model->num_parameters() > 1'000'000);
  CHECK(model->num_parameters() < 5'000'000);
  auto params = model->named_parameters();
  CHECK(params.contains("model.embed_tokens.weight"));
  CHECK(params.contains("model.layers.0.self_attn.q_proj.weight"));
  CHECK(params.contains("model.layers.3.mlp.experts.3.down_proj.weight"));
  CHECK(params.contains("model.layers.0.mlp.shared_experts.gate_proj.weight"));
  CHECK(params.contains("model.layers.0.mlp.gate.weight"));
  CHECK(params.contains("model.norm.weight"));
  CHECK(params.contains("lm_head.weight"));
  CHECK(params["model.layers.0.self_attn.k_proj.weight"].size(0) == 2 * 32);  // 2 KV heads (GQA)
}

TEST_CASE("unknown preset names the known ones") {
  CHECK_THROWS_WITH_AS(preset_config("huge"), doctest::Contains("known: tiny"), r1::UserError);
}

TEST_CASE("attention is causal: later tokens do not change earlier logits") {
  torch::manual_seed(1);
  CausalLM model(small_config());
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(0, 256, {2, 12}, torch::kLong);
  auto changed = ids.clone();
  changed.narrow(1, 8, 4).random_(0, 256);
  auto a = model->logits(model->forward(ids).hidden);
  auto b = model->logits(model->forward(changed).hidden);
  CHECK(max_diff(a.narrow(1, 0, 8), b.narrow(1, 0, 8)) < 1e-5);
  CHECK(max_diff(a.narrow(1, 8, 4), b.narrow(1, 8, 4)) > 1e-3);
}

TEST_CASE("incremental decoding with the KV cache matches the full forward") {
  for (bool moe : {true, false}) {
    torch::manual_seed(2);
    CausalLM model(small_config(moe));
    torch::NoGradGuard no_grad;
    auto ids = torch::randint(0, 256, {3, 16}, torch::kLong);
    auto full = model->logits(model->forward(ids).hidden);
    auto cache = model->make_cache(3, 32);
    cache.valid.narrow(1, 0, 10).fill_(true);
    auto prefill = model->logits(model->forward(ids.narrow(1, 0, 10), std::nullopt, &cache).hidden);
    CHECK(max_diff(prefill, full.narrow(1, 0, 10)) < 1e-4);
    for (int64_t t = 10; t < 16; ++t) {
      cache.valid.select(1, t).fill_(true);
      auto step = model->logits(model->forward(ids.narrow(1, t, 1), std::nullopt, &cache).hidden);
      CHECK(max_diff(step.squeeze(1), full.select(1, t)) < 1e-4);
    }
    CHECK(cache.length == 16);
  }
}

TEST_CASE("left padding with masked slots and shifted positions gives the unpadded logits") {
  torch::manual_seed(3);
  CausalLM model(small_config());
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(0, 256, {1, 7}, torch::kLong);
  auto reference = model->logits(model->forward(ids).hidden).select(1, 6);
  const int64_t pad = 5;
  auto padded = torch::cat({torch::full({1, pad}, 257, torch::kLong), ids}, 1);
  auto positions = torch::cat({torch::zeros({1, pad}, torch::kLong), torch::arange(7, torch::kLong).unsqueeze(0)}, 1);
  auto cache = model->make_cache(1, 16);
  cache.valid.narrow(1, pad, 7).fill_(true);
  auto out = model->logits(model->forward(padded, positions, &cache).hidden).select(1, pad + 6);
  CHECK(max_diff(out, reference) < 1e-4);
}

TEST_CASE("MoE: uniform router gives load-balancing loss 1; gradients reach router and experts") {
  torch::manual_seed(4);
  auto c = small_config();
  Moe moe(c);
  {
    torch::NoGradGuard no_grad;
    moe->gate->weight.zero_();
  }
  auto x = torch::randn({50, c.hidden_size});
  RoutingStats stats{torch::zeros({}), {}, false, {}};
  moe->forward(x, &stats);
  CHECK(stats.aux_loss.item<double>() == doctest::Approx(1.0).epsilon(1e-5));
  REQUIRE(stats.expert_counts.size() == 1);  // one MoE layer: its routed slots per expert
  CHECK(stats.expert_counts[0].sum().item<int64_t>() == 50 * c.num_experts_per_token);

  torch::manual_seed(5);
  CausalLM model(c);
  auto ids = torch::randint(0, 256, {2, 10}, torch::kLong);
  auto out = model->forward(ids);
  auto loss = model->logits(out.hidden).logsumexp(-1).mean() + out.aux_loss;
  loss.backward();
  auto params = model->named_parameters();
  CHECK(params["model.layers.1.mlp.gate.weight"].grad().abs().sum().item<double>() > 0);
  double expert_grad = 0;
  for (int64_t e = 0; e < c.num_experts; ++e) {
    // An expert no token was routed to has no gradient at all.
    auto grad = params["model.layers.1.mlp.experts." + std::to_string(e) + ".up_proj.weight"].grad();
    if (grad.defined()) expert_grad += grad.abs().sum().item<double>();
  }
  CHECK(expert_grad > 0);
  // Near-uniform router at init: E * sum_e f_e P_e is close to 1.
  CHECK(out.aux_loss.item<double>() == doctest::Approx(1.0).epsilon(0.1));
}

TEST_CASE("copy_weights makes two models compute the same function") {
  torch::manual_seed(6);
  CausalLM a(small_config());
  torch::manual_seed(7);
  CausalLM b(small_config());
  auto ids = torch::randint(0, 256, {1, 8}, torch::kLong);
  torch::NoGradGuard no_grad;
  CHECK(max_diff(a->logits(a->forward(ids).hidden), b->logits(b->forward(ids).hidden)) > 1e-3);
  copy_weights(b, a);
  CHECK(max_diff(a->logits(a->forward(ids).hidden), b->logits(b->forward(ids).hidden)) == 0.0);
}
