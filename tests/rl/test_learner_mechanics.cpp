// The learner's mechanics (rl/grpo_update.h, rl/load_balance.h, policy/activation_checkpoint.h):
// gradient accumulation equals the whole batch, several updates per batch move the ratio, a
// non-finite loss or gradient stops before any weight moves, recomputed layers give the same
// gradients, and the auxiliary-loss-free bias update balances the experts.
#include "tests/doctest_torch.h"

#include <cmath>

#include "common/error.h"
#include "policy/model_config.h"
#include "rl/grpo_update.h"
#include "rl/load_balance.h"

using namespace r1;

namespace {

policy::CausalLM tiny_model(const std::string& preset = "tiny", uint64_t seed = 0) {
  torch::manual_seed(seed);
  auto c = policy::preset_config(preset);
  c.vocab_size = 266;
  c.max_position = 64;
  return policy::CausalLM(c);
}

// 8 sequences in 2 groups of 4, completions of different lengths, engine logprobs a little off
// the learner's so the TIS weight and mismatch are not trivially 1 and 0.
rl::TokenBatch rollout_batch() {
  std::vector<rl::TokenSequence> sequences;
  for (int i = 0; i < 8; ++i) {
    std::vector<int64_t> completion;
    for (int t = 0; t < 3 + i % 4; ++t) completion.push_back(70 + (i * 7 + t * 3) % 90);
    sequences.push_back({{65, 66, int64_t(67 + i % 2)}, completion, std::vector<float>(completion.size(), -5.0f)});
  }
  return rl::pack(sequences, 257);
}

torch::Tensor advantages8() { return torch::tensor({1.2f, -0.4f, -0.3f, -0.5f, 0.9f, 0.6f, -1.1f, -0.4f}); }

std::vector<torch::Tensor> snapshot(policy::CausalLM& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  return out;
}

double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  return worst;
}

// AdamW whose eps dwarfs |g|: its first step is ~lr * g, linear in the gradient, so two equal
// gradients give equal weights (a normal eps makes it lr * sign(g), where rounding flips the sign
// of a near-zero component).
rl::OptimizerConfig sgd_like() {
  rl::OptimizerConfig config;
  config.lr = 1e-2;
  config.eps = 10.0;
  config.grad_clip = 0;  // so accumulation errors are not hidden by rescaling
  return config;
}

}  // namespace

TEST_CASE("gradient accumulation over micro-batches gives the whole batch's update, for every aggregation") {
  for (const std::string mode : {"seq_mean_token_mean", "token_mean", "seq_mean_token_sum"}) {
    CAPTURE(mode);
    rl::GrpoConfig config;
    config.group_size = 4;
    config.kl_beta = 0;
    config.loss_aggregation = mode;
    // The load-balancing loss is not additive over micro-batches (each has its own expert
    // shares), as in every framework that accumulates; without it the sum is exact.
    config.aux_loss_coef = 0;
    auto batch = rollout_batch();
    auto whole = tiny_model();
    rl::Optimizer whole_opt(whole->parameters(), sgd_like(), 10);
    auto whole_stats = rl::grpo_update(whole, whole_opt, batch, advantages8(), {}, config, 1, "test");
    config.micro_batch_size = 3;  // 3 + 3 + 2: uneven on purpose
    auto parts = tiny_model();
    rl::Optimizer parts_opt(parts->parameters(), sgd_like(), 10);
    auto parts_stats = rl::grpo_update(parts, parts_opt, batch, advantages8(), {}, config, 1, "test");
    CHECK(whole_stats.updates == 1);
    CHECK(parts_stats.updates == 1);
    // The same gradient, so the same AdamW step: equal to float rounding.
    CHECK(parts_stats.grad_norm == doctest::Approx(whole_stats.grad_norm).epsilon(1e-5));
    CHECK(parts_stats.policy_loss == doctest::Approx(whole_stats.policy_loss).epsilon(1e-5));
    CHECK(parts_stats.entropy == doctest::Approx(whole_stats.entropy).epsilon(1e-5));
    CHECK(max_difference(snapshot(whole), snapshot(parts)) < 1e-8);
  }
}

TEST_CASE("epochs x mini-batches: that many updates; the first ratio is 1, later ones move and get clipped") {
  rl::GrpoConfig config;
  config.group_size = 4;
  config.kl_beta = 0;
  config.clip_low = config.clip_high = 0.02;
  auto batch = rollout_batch();
  auto model = tiny_model();
  auto optimizer_config = sgd_like();
  optimizer_config.lr = 3e-2;
  optimizer_config.eps = 1e-8;  // full Adam steps, so the policy moves within the batch
  {
    rl::Optimizer optimizer(model->parameters(), optimizer_config, 10);
    auto one = rl::grpo_update(model, optimizer, batch, advantages8(), {}, config, 7, "test");
    CHECK(one.updates == 1);
    CHECK(one.ratio_max == doctest::Approx(1.0));  // one update per batch: ratio exactly 1
    CHECK(one.clip_fraction == 0.0);
  }
  config.epochs = 3;
  config.mini_batches = 2;
  rl::Optimizer optimizer(model->parameters(), optimizer_config, 10);
  auto many = rl::grpo_update(model, optimizer, batch, advantages8(), {}, config, 7, "test");
  MESSAGE("6 updates: ratio max " << many.ratio_max << ", clip fraction " << many.clip_fraction << " (low "
                                  << many.clip_low_fraction << ", high " << many.clip_high_fraction << ")");
  CHECK(many.updates == 6);
  CHECK(optimizer.steps_done() == 6);
  CHECK(many.ratio_max > 1.02);        // later updates see a policy that moved
  CHECK(many.clip_fraction > 0.0);
  CHECK(many.clip_high_fraction > 0.0);  // positive advantages pushed past 1 + clip_high
  CHECK(many.clip_low_fraction + many.clip_high_fraction <= many.clip_fraction + 1e-9);
  // The mismatch compares the engine's -5.0 with the learner's old logprobs on every token.
  CHECK(many.mismatch.max_abs > 0.0);
}

TEST_CASE("the same seed orders mini-batches the same way: two runs agree bit for bit") {
  rl::GrpoConfig config;
  config.group_size = 4;
  config.kl_beta = 0;
  config.epochs = 2;
  config.mini_batches = 4;
  config.micro_batch_size = 1;
  std::vector<torch::Tensor> results[2];
  for (int run = 0; run < 2; ++run) {
    auto model = tiny_model();
    rl::Optimizer optimizer(model->parameters(), sgd_like(), 10);
    rl::grpo_update(model, optimizer, rollout_batch(), advantages8(), {}, config, 11, "test");
    results[run] = snapshot(model);
  }
  CHECK(max_difference(results[0], results[1]) == 0.0);
}

TEST_CASE("a NaN loss or an infinite gradient stops the step with a clear message and moves no weight") {
  rl::GrpoConfig config;
  config.group_size = 4;
  config.kl_beta = 0;
  auto model = tiny_model();
  rl::Optimizer optimizer(model->parameters(), sgd_like(), 10);
  const auto before = snapshot(model);
  auto advantages = advantages8();
  advantages[3] = std::nanf("");
  try {
    rl::grpo_update(model, optimizer, rollout_batch(), advantages, {}, config, 1, "zero step 5");
    FAIL("a NaN loss did not stop the step");
  } catch (const UserError& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("zero step 5: the loss is") == 0);
    CHECK(message.find("nan") != std::string::npos);
    CHECK(message.find("weights are those of the last step") != std::string::npos);
  }
  CHECK(max_difference(before, snapshot(model)) == 0.0);
  CHECK(optimizer.steps_done() == 0);

  // An infinite gradient reaching the optimiser directly.
  auto p = torch::ones({3}, torch::requires_grad());
  rl::Optimizer plain({p}, sgd_like(), 10);
  (p * std::numeric_limits<float>::infinity()).sum().backward();
  CHECK_THROWS_WITH_AS(plain.step(), doctest::Contains("the gradient norm is inf"), UserError);
  CHECK(p.detach().equal(torch::ones({3})));
  CHECK(!p.grad().defined());  // dropped, so the next step starts clean
}

TEST_CASE("activation checkpointing: the same loss and the same gradients, MoE router and aux loss included") {
  for (const std::string preset : {"tiny", "tiny-dense"}) {
    CAPTURE(preset);
    auto batch = rollout_batch();
    std::vector<torch::Tensor> grads[2];
    double losses[2] = {0, 0};
    for (int recompute = 0; recompute < 2; ++recompute) {
      auto model = tiny_model(preset, 3);
      model->model->activation_checkpointing = recompute == 1;
      auto out = rl::token_logprobs(model, batch.input_ids, /*with_entropy=*/true);
      auto loss = -rl::masked_mean(out.logprobs, batch.loss_mask) - 0.1 * rl::masked_mean(out.entropy, batch.loss_mask) +
                  0.5 * out.aux_loss;
      losses[recompute] = loss.item<double>();
      loss.backward();
      for (const auto& p : model->parameters()) grads[recompute].push_back(p.grad().defined() ? p.grad().clone()
                                                                                               : torch::zeros_like(p));
    }
    CHECK(losses[1] == losses[0]);  // the forward is the same computation
    double worst = 0, scale = 0;
    for (std::size_t i = 0; i < grads[0].size(); ++i) {
      worst = std::max(worst, (grads[0][i] - grads[1][i]).abs().max().item<double>());
      scale = std::max(scale, grads[0][i].abs().max().item<double>());
    }
    MESSAGE(preset << ": max |grad difference| " << worst << " (largest gradient " << scale << ")");
    CHECK(scale > 0);
    CHECK(worst <= 1e-6 * scale);
  }
}

TEST_CASE("aux-loss-free balancing: the bias moves by rate * sign(mean - load) and evens a skewed router") {
  auto c = policy::preset_config("tiny");
  c.vocab_size = 266;
  c.max_position = 64;
  c.router_correction_bias = true;
  torch::manual_seed(5);
  policy::CausalLM model(c);
  auto layers = rl::moe_layers(model);
  REQUIRE(!layers.empty());
  const int64_t experts = c.num_experts;

  // The rule on given counts.
  std::vector<torch::Tensor> counts;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    auto load = torch::zeros({experts}, torch::kLong);
    load[0] = 10;  // overloaded; the rest share the mean or are under it
    counts.push_back(load);
  }
  rl::update_correction_bias(model, counts, 0.25);
  auto bias = layers[0]->gate->e_score_correction_bias;
  CHECK(bias[0].item<double>() == doctest::Approx(-0.25));
  CHECK(bias[1].item<double>() == doctest::Approx(0.25));

  // A bias that puts expert 0 into every token's top-k (router scores are softmax shares, below 1):
  // the update alone, no gradient, walks it back and spreads the load.
  {
    torch::NoGradGuard no_grad;
    for (auto& layer : layers) {
      layer->gate->e_score_correction_bias.zero_();
      layer->gate->e_score_correction_bias[0] = 1.0;
    }
  }
  auto batch = rollout_batch();
  auto imbalance = [&] {
    torch::NoGradGuard no_grad;
    return rl::token_logprobs(model, batch.input_ids).expert_counts;
  };
  const double before = rl::expert_load_imbalance(imbalance());
  for (int step = 0; step < 80; ++step) rl::update_correction_bias(model, imbalance(), 0.02);
  const double after = rl::expert_load_imbalance(imbalance());
  MESSAGE("expert load max/mean: " << before << " -> " << after);
  CHECK(before > 1.2);
  CHECK(after < before - 0.5);

  // A model without the bias says which key to set.
  auto plain = tiny_model();
  CHECK_THROWS_WITH_AS(rl::update_correction_bias(plain, counts, 0.1), doctest::Contains("model.router_correction_bias"),
                       UserError);
}
