// Packing; the optimiser's schedule; SFT learns. (The objectives: test_objectives.cpp.)
#include "tests/doctest_torch.h"

#include <cmath>

#include "policy/model_config.h"
#include "rl/grpo.h"
#include "rl/optimizer.h"
#include "rl/token_batch.h"

using namespace r1;

TEST_CASE("pack aligns targets: the mask covers completion tokens, old logprobs sit at their targets") {
  std::vector<rl::TokenSequence> seqs = {{{10, 11, 12}, {20, 21}, {-0.5f, -0.25f}}, {{10}, {30}, {-1.0f}}};
  auto batch = rl::pack(seqs, 257);
  CHECK(batch.input_ids.sizes() == torch::IntArrayRef({2, 5}));
  CHECK(batch.input_ids[1][2].item<int64_t>() == 257);
  // Sequence 0: targets at positions 2 (token 20) and 3 (token 21).
  CHECK(batch.loss_mask[0].sum().item<double>() == 2.0);
  CHECK(batch.loss_mask[0][2].item<double>() == 1.0);
  CHECK(batch.old_logprobs[0][3].item<double>() == doctest::Approx(-0.25));
  CHECK(batch.loss_mask[1][0].item<double>() == 1.0);
  CHECK(batch.old_logprobs[1][0].item<double>() == doctest::Approx(-1.0));
  auto pretrain = rl::pack(seqs, 257, /*train_on_prompt=*/true);
  CHECK(pretrain.loss_mask[0].sum().item<double>() == 4.0);
}

TEST_CASE("optimiser: warm-up then cosine decay to the floor") {
  auto p = torch::zeros({3}, torch::requires_grad());
  rl::OptimizerConfig config;
  config.lr = 1.0;
  config.warmup_steps = 4;
  config.schedule = "cosine";
  config.min_lr_ratio = 0.1;
  rl::Optimizer opt({p}, config, 14);
  std::vector<double> lrs;
  for (int i = 0; i < 14; ++i) {
    lrs.push_back(opt.current_lr());
    p.sum().backward();
    opt.step();
  }
  CHECK(lrs[0] == doctest::Approx(0.25));
  CHECK(lrs[3] == doctest::Approx(1.0));
  CHECK(lrs[4] == doctest::Approx(1.0));
  CHECK(lrs[9] == doctest::Approx(0.1 + 0.45 * (1 + std::cos(M_PI * 0.5))));
  CHECK(opt.current_lr() == doctest::Approx(0.1));
}

TEST_CASE("SFT on one batch lowers the completion loss by at least half") {
  torch::manual_seed(0);
  auto c = policy::preset_config("tiny");
  c.vocab_size = 266;
  c.max_position = 64;
  policy::CausalLM model(c);
  std::vector<rl::TokenSequence> seqs;
  for (int i = 0; i < 4; ++i) seqs.push_back({{65, 66, int64_t(67 + i)}, {int64_t(80 + i), 81, 82, 256}, {}});
  auto batch = rl::pack(seqs, 257);
  rl::OptimizerConfig config;
  config.lr = 3e-3;
  rl::Optimizer opt(model->parameters(), config, 40);
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    auto out = rl::token_logprobs(model, batch.input_ids);
    auto loss = -rl::masked_mean(out.logprobs, batch.loss_mask) + 0.01 * out.aux_loss;
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    loss.backward();
    opt.step();
  }
  MESSAGE("SFT loss " << first << " -> " << last);
  CHECK(last < 0.5 * first);
}
