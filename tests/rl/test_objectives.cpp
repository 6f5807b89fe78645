// The GRPO-family objectives against values computed by hand on small tensors, gradients included
// (autograd against central finite differences in double precision).
#include "tests/doctest_torch.h"

#include <cmath>
#include <functional>

#include "rl/advantages.h"
#include "rl/bradley_terry.h"
#include "rl/chunked_logprobs.h"
#include "rl/grpo.h"
#include "rl/token_batch.h"

using namespace r1;

namespace {

double value_at(const torch::Tensor& t, int64_t i) { return t[i].item<double>(); }
double value_at(const torch::Tensor& t, int64_t i, int64_t j) { return t[i][j].item<double>(); }

// max |autograd - finite difference| of f at x (double precision).
double gradient_error(const std::function<torch::Tensor(const torch::Tensor&)>& f, const torch::Tensor& x0) {
  auto x = x0.clone().to(torch::kFloat64).requires_grad_(true);
  f(x).backward();
  auto analytic = x.grad().clone();
  auto flat = x0.clone().to(torch::kFloat64).reshape(-1);
  double worst = 0.0;
  const double h = 1e-6;
  for (int64_t i = 0; i < flat.numel(); ++i) {
    auto plus = flat.clone(), minus = flat.clone();
    plus[i] += h;
    minus[i] -= h;
    torch::NoGradGuard no_grad;
    const double numeric =
        (f(plus.view(x0.sizes())).item<double>() - f(minus.view(x0.sizes())).item<double>()) / (2 * h);
    worst = std::max(worst, std::abs(numeric - analytic.reshape(-1)[i].item<double>()));
  }
  return worst;
}

}  // namespace

TEST_CASE("advantages: group_norm, mean_only, leave_one_out, batch normalisation") {
  auto rewards = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f, 0.5f, 0.5f, 0.5f, 0.5f, 2.0f, 0.0f, 1.0f, 1.0f});
  rl::AdvantageConfig config;
  auto grpo = rl::compute_advantages(rewards, 4, config);
  const double std = std::sqrt(1.0 / 3.0);  // unbiased std of {1,0,0,1}
  CHECK(value_at(grpo, 0) == doctest::Approx(0.5 / (std + 1e-4)));
  CHECK(value_at(grpo, 1) == doctest::Approx(-0.5 / (std + 1e-4)));
  for (int i = 4; i < 8; ++i) CHECK(value_at(grpo, i) == 0.0);  // no signal in an all-equal group
  CHECK(value_at(grpo, 8) == doctest::Approx(1.0 / (std::sqrt(2.0 / 3.0) + 1e-4)));  // {2,0,1,1}: std sqrt(2/3)

  config.estimator = "mean_only";
  auto dr = rl::compute_advantages(rewards, 4, config);
  CHECK(value_at(dr, 0) == doctest::Approx(0.5));
  CHECK(value_at(dr, 9) == doctest::Approx(-1.0));
  CHECK(value_at(dr, 5) == 0.0);

  config.estimator = "leave_one_out";
  auto rloo = rl::compute_advantages(rewards, 4, config);
  CHECK(value_at(rloo, 0) == doctest::Approx(1.0 - 1.0 / 3.0));  // 1 - mean(0, 0, 1)
  CHECK(value_at(rloo, 8) == doctest::Approx(2.0 - 2.0 / 3.0));  // 2 - mean(0, 1, 1)
  CHECK(value_at(rloo, 6) == 0.0);

  config.estimator = "mean_only";
  config.batch_normalize = true;
  auto scaled = rl::compute_advantages(rewards, 4, config);
  const double batch_std = dr.std().item<double>();
  CHECK(value_at(scaled, 9) == doctest::Approx(-1.0 / (batch_std + 1e-4)));
  CHECK(value_at(scaled, 5) == 0.0);  // scaled, not shifted
}

TEST_CASE("KL estimators k1, k2, k3 and their per-sequence sums") {
  auto logp = torch::tensor({{-1.0f, -2.0f}});
  auto ref = torch::tensor({{-1.0f, -1.5f}});
  auto mask = torch::tensor({{1.0f, 1.0f}});
  CHECK(value_at(rl::kl_estimate(logp, ref, "k1"), 0, 1) == doctest::Approx(-0.5));
  CHECK(value_at(rl::kl_estimate(logp, ref, "k2"), 0, 1) == doctest::Approx(0.125));
  CHECK(value_at(rl::kl_estimate(logp, ref, "k3"), 0, 1) == doctest::Approx(std::exp(0.5) - 0.5 - 1.0));
  for (const char* k : {"k1", "k2", "k3"}) CHECK(value_at(rl::kl_estimate(logp, ref, k), 0, 0) == 0.0);
  CHECK(value_at(rl::sequence_kl(logp, ref, mask, "k1"), 0) == doctest::Approx(-0.5));
}

TEST_CASE("identity: with one update per batch the ratio is 1 and clipped and unclipped objectives agree") {
  auto logp = torch::tensor({{-1.0f, -2.0f, -0.5f}, {-1.0f, -0.1f, 0.0f}}).requires_grad_(true);
  auto mask = torch::tensor({{1.0f, 1.0f, 1.0f}, {1.0f, 1.0f, 0.0f}});
  auto adv = torch::tensor({1.5f, -0.7f});
  rl::GrpoConfig clipped, unclipped;
  clipped.kl_beta = unclipped.kl_beta = 0;
  clipped.clip_low = clipped.clip_high = 0.01;
  unclipped.clip_low = 0.999;
  unclipped.clip_high = 1e9;
  auto a = rl::grpo_loss({logp, logp.detach(), {}, {}, {}, adv, mask}, clipped);
  auto b = rl::grpo_loss({logp, logp.detach(), {}, {}, {}, adv, mask}, unclipped);
  CHECK(a.ratio_max == 1.0);
  CHECK(a.clip_fraction == 0.0);
  CHECK(a.loss.item<double>() == b.loss.item<double>());
  auto ga = torch::autograd::grad({a.loss}, {logp})[0];
  auto gb = torch::autograd::grad({b.loss}, {logp})[0];
  CHECK(torch::equal(ga, gb));
  // On policy the loss is -mean over sequences of A (seq_mean_token_mean): -(1.5 - 0.7) / 2.
  CHECK(a.loss.item<double>() == doctest::Approx(-0.4));
}

TEST_CASE("loss aggregation: per-sequence token mean, batch token mean, Dr. GRPO's constant length") {
  // seq 0: 3 tokens of loss 1, 2, 3; seq 1: 1 token of loss 4.
  auto per_token = torch::tensor({{1.0f, 2.0f, 3.0f}, {4.0f, 9.0f, 9.0f}});
  auto mask = torch::tensor({{1.0f, 1.0f, 1.0f}, {1.0f, 0.0f, 0.0f}});
  CHECK(rl::aggregate(per_token, mask, "seq_mean_token_mean", 0).item<double>() == doctest::Approx((2.0 + 4.0) / 2));
  CHECK(rl::aggregate(per_token, mask, "token_mean", 0).item<double>() == doctest::Approx(10.0 / 4));
  CHECK(rl::aggregate(per_token, mask, "seq_mean_token_sum", 0).item<double>() == doctest::Approx((6.0 / 3 + 4.0 / 3) / 2));
  CHECK(rl::aggregate(per_token, mask, "seq_mean_token_sum", 10).item<double>() == doctest::Approx((0.6 + 0.4) / 2));
}

TEST_CASE("clip-higher: separate bounds; dual clip caps negative-advantage losses") {
  auto old = torch::zeros({2, 1});
  auto mask = torch::ones({2, 1});
  auto adv = torch::tensor({1.0f, -1.0f});
  rl::GrpoConfig config;
  config.kl_beta = 0;
  config.clip_low = 0.2;
  config.clip_high = 0.28;
  // ratio 1.25 with A > 0: inside [0.8, 1.28], not clipped; with the symmetric 0.2 it would be.
  auto logp = torch::full({2, 1}, std::log(1.25f));
  auto terms = rl::grpo_loss({logp, old, {}, {}, {}, torch::tensor({1.0f, 1.0f}), mask}, config);
  CHECK(terms.clip_fraction == 0.0);
  CHECK(terms.loss.item<double>() == doctest::Approx(-1.25));
  config.clip_high = 0.2;
  terms = rl::grpo_loss({logp, old, {}, {}, {}, torch::tensor({1.0f, 1.0f}), mask}, config);
  CHECK(terms.clip_fraction == 1.0);
  CHECK(terms.loss.item<double>() == doctest::Approx(-1.2));

  // A = -1, ratio 5: PPO's loss is max(5, 1.2) = 5; dual clip c = 3 caps it at 3, with no gradient.
  auto far = torch::full({2, 1}, std::log(5.0f)).requires_grad_(true);
  auto plain = rl::grpo_loss({far, old, {}, {}, {}, adv, mask}, config);
  CHECK(plain.loss.item<double>() == doctest::Approx((-1.2 + 5.0) / 2));
  config.dual_clip = 3.0;
  auto dual = rl::grpo_loss({far, old, {}, {}, {}, adv, mask}, config);
  CHECK(dual.loss.item<double>() == doctest::Approx((-1.2 + 3.0) / 2));
  dual.loss.backward();
  CHECK(far.grad()[1][0].item<double>() == 0.0);
}

TEST_CASE("KL in the loss, entropy bonus and the truncated importance weight enter as stated") {
  auto logp = torch::tensor({{-1.0f, -2.0f}});
  auto mask = torch::ones({1, 2});
  auto adv = torch::tensor({0.0f});  // no policy term: what is left is the KL, entropy and TIS parts
  rl::GrpoConfig config;
  config.kl_beta = 0.5;
  config.kl_estimator = "k2";
  auto ref = torch::tensor({{-1.0f, -1.0f}});
  auto kl = rl::grpo_loss({logp, logp, {}, ref, {}, adv, mask}, config);
  CHECK(kl.loss.item<double>() == doctest::Approx(0.5 * (0.0 + 0.5) / 2));
  CHECK(kl.kl == doctest::Approx(0.25));

  config.kl_beta = 0;
  config.entropy_coef = 0.1;
  auto entropy = torch::tensor({{1.0f, 3.0f}});
  auto bonus = rl::grpo_loss({logp, logp, {}, {}, entropy, adv, mask}, config);
  CHECK(bonus.loss.item<double>() == doctest::Approx(-0.1 * 2.0));
  CHECK(bonus.entropy == doctest::Approx(2.0));

  config.entropy_coef = 0;
  config.tis_cap = 2.0;
  auto engine = torch::tensor({{-1.5f, -4.0f}});  // weights e^0.5 and e^2 -> capped at 2
  auto tis = rl::grpo_loss({logp, logp, engine, {}, {}, torch::tensor({1.0f}), mask}, config);
  CHECK(tis.tis_weight_mean == doctest::Approx((std::exp(0.5) + 2.0) / 2));
  CHECK(tis.loss.item<double>() == doctest::Approx(-(std::exp(0.5) + 2.0) / 2));
}

TEST_CASE("every loss variant's gradient matches finite differences") {
  auto old = torch::tensor({{-1.0, -2.0, -0.7}, {-0.4, -1.1, -3.0}}, torch::kFloat64);
  auto start = old + torch::tensor({{0.1, -0.15, 0.05}, {0.02, 0.12, -0.3}}, torch::kFloat64);
  auto ref = old - 0.2;
  auto engine = old + 0.05;
  auto mask = torch::tensor({{1.0, 1.0, 1.0}, {1.0, 1.0, 0.0}}, torch::kFloat64);
  auto adv = torch::tensor({0.8, -1.3}, torch::kFloat64);
  for (const char* aggregation : {"seq_mean_token_mean", "token_mean", "seq_mean_token_sum"}) {
    for (const char* estimator : {"k1", "k2", "k3"}) {
      rl::GrpoConfig config;
      config.loss_aggregation = aggregation;
      config.kl_estimator = estimator;
      config.kl_beta = 0.1;
      config.clip_low = 0.1;
      config.clip_high = 0.3;  // the 0.1 offsets sit inside the bounds, away from the kinks
      config.dual_clip = 3.0;
      config.tis_cap = 2.0;
      auto f = [&](const torch::Tensor& logp) {
        return rl::grpo_loss({logp, old, engine, ref, {}, adv, mask}, config).loss;
      };
      INFO(aggregation << " " << estimator);
      CHECK(gradient_error(f, start) < 1e-6);
    }
  }
}

TEST_CASE("entropy from token_logprobs equals -sum p log p and the mismatch is measured") {
  auto logits = torch::tensor({{0.0, 1.0, 2.0}});
  auto p = torch::softmax(logits, -1);
  const double expected = -(p * torch::log(p)).sum().item<double>();
  CHECK(expected > 0);
  auto learner = torch::tensor({{-1.0f, -2.0f, -3.0f}});
  auto engine = torch::tensor({{-1.0f, -2.5f, -9.0f}});
  auto mask = torch::tensor({{1.0f, 1.0f, 0.0f}});
  auto m = rl::logprob_mismatch(learner, engine, mask);
  CHECK(m.max_abs == doctest::Approx(0.5));  // the masked -6 difference does not count
  CHECK(m.kl == doctest::Approx((std::exp(0.5) - 0.5 - 1.0) / 2));
}

TEST_CASE("chunked log-probabilities and entropies equal the dense ones, values and gradients") {
  torch::manual_seed(3);
  auto hidden = torch::randn({7, 5}, torch::kFloat64);
  auto weight = torch::randn({23, 5}, torch::kFloat64);
  auto targets = torch::tensor({0, 22, 5, 6, 7, 12, 13}, torch::kLong);
  auto g_lp = torch::randn({7}, torch::kFloat64), g_h = torch::randn({7}, torch::kFloat64);

  auto dense = [&](const torch::Tensor& h, const torch::Tensor& w) {
    auto all = torch::log_softmax(torch::matmul(h, w.t()), -1);
    return std::make_pair(all.gather(1, targets.unsqueeze(1)).squeeze(1), -(all.exp() * all).sum(-1));
  };
  auto h1 = hidden.clone().requires_grad_(true), w1 = weight.clone().requires_grad_(true);
  auto [lp_dense, ent_dense] = dense(h1, w1);
  ((lp_dense * g_lp).sum() + (ent_dense * g_h).sum()).backward();

  for (int64_t chunk : {1, 6, 23, 64}) {
    auto h2 = hidden.clone().requires_grad_(true), w2 = weight.clone().requires_grad_(true);
    auto chunked = rl::chunked_logprobs(h2, w2, targets, chunk);
    ((chunked.logprobs * g_lp).sum() + (chunked.entropy * g_h).sum()).backward();
    INFO("chunk " << chunk);
    // fp32 inside: agreement to ~1e-5.
    CHECK((chunked.logprobs - lp_dense).abs().max().item<double>() < 1e-5);
    CHECK((chunked.entropy - ent_dense).abs().max().item<double>() < 1e-5);
    CHECK((h2.grad() - h1.grad()).abs().max().item<double>() < 1e-4);
    CHECK((w2.grad() - w1.grad()).abs().max().item<double>() < 1e-4);
  }
}

TEST_CASE("Bradley-Terry: -mean log sigmoid(chosen - rejected), pair accuracy, margin, gradient") {
  auto chosen = torch::tensor({1.0, 0.5, -2.0}, torch::kFloat64);
  auto rejected = torch::tensor({0.0, 1.5, -2.5}, torch::kFloat64);
  auto terms = rl::bradley_terry_loss(chosen, rejected);
  // margins 1, -1, 0.5: log(1 + e^-1), log(1 + e^1), log(1 + e^-0.5)
  const double expected = (std::log1p(std::exp(-1.0)) + std::log1p(std::exp(1.0)) + std::log1p(std::exp(-0.5))) / 3;
  CHECK(terms.loss.item<double>() == doctest::Approx(expected).epsilon(1e-12));
  CHECK(terms.accuracy == doctest::Approx(2.0 / 3.0));
  CHECK(terms.margin == doctest::Approx(0.5 / 3.0));
  // d/dc = -(1 - sigmoid(m)) / n; checked against finite differences for both arguments.
  CHECK(gradient_error([&](const torch::Tensor& c) { return rl::bradley_terry_loss(c, rejected).loss; }, chosen) < 1e-8);
  CHECK(gradient_error([&](const torch::Tensor& r) { return rl::bradley_terry_loss(chosen, r).loss; }, rejected) < 1e-8);
  // Finite for a huge margin either way (no log(0)).
  auto extreme = rl::bradley_terry_loss(torch::tensor({-400.0, 400.0}), torch::tensor({400.0, -400.0}));
  CHECK(std::isfinite(extreme.loss.item<double>()));
  CHECK(extreme.loss.item<double>() == doctest::Approx(400.0).epsilon(1e-4));
  CHECK_THROWS(rl::bradley_terry_loss(torch::zeros({2}), torch::zeros({3})));
}
