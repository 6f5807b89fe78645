// The GRPO stages' sampling-side controls and learner mechanics, end to end through `r1 run`:
// dynamic sampling, truncated-completion masking, reference refresh, several updates per batch,
// the aux-loss-free bias update, and the per-step metrics that show each at work.
#include <doctest/doctest.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/stages/cli_runner.h"

namespace fs = std::filesystem;

namespace {

std::vector<nlohmann::json> metric_steps(const fs::path& run_dir, const std::string& stage) {
  std::vector<nlohmann::json> steps;
  std::ifstream in(run_dir / stage / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto row = nlohmann::json::parse(line);
    if (row.contains("policy_loss")) steps.push_back(row);  // training steps, not the evaluations
  }
  return steps;
}

CommandResult zero_run(const fs::path& run_dir, const std::string& extra) {
  return r1("run " + kDemoConfig + kTinyRun + " --set stages=[pretrain,zero] --set zero.steps=3" + extra +
            " --run-dir " + run_dir.string());
}

}  // namespace

TEST_CASE("dynamic sampling drops groups without signal, refills, and every sample is still stored") {
  auto dir = fresh_dir("grpo_dynamic");
  auto run = zero_run(dir / "run", " --set zero.grpo.dynamic_sampling=true --set zero.grpo.dynamic_sampling_max_rounds=3"
                                   " --set zero.prompts_per_step=3");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const auto steps = metric_steps(dir / "run", "zero");
  REQUIRE(steps.size() == 3);
  int64_t stored = 0, dropped = 0;
  for (const auto& step : steps) {
    const auto trained = step["trained_samples"].get<int64_t>();
    const auto rounds = step["sampling_rounds"].get<int64_t>();
    const auto groups_dropped = step["groups_dropped"].get<int64_t>();
    CHECK(trained % 4 == 0);  // whole groups only
    CHECK(trained <= 12);
    CHECK(rounds >= 1);
    CHECK(rounds <= 3);
    if (rounds < 3) CHECK(trained == 12);  // stopped early only because the batch was full
    if (trained > 0) CHECK(step["advantage_abs_max"].get<double>() > 0);  // every kept group has signal
    stored += trained + 4 * groups_dropped;
    dropped += groups_dropped;
  }
  MESSAGE("groups dropped over 3 steps: " << dropped);
  CHECK(dropped > 0);  // a 20-step base model gets many groups all wrong
  auto exported = r1("traces export --stage zero -o - --db " + (dir / "run/traces.db").string());
  REQUIRE(exported.exit_code == 0);
  int64_t lines = 0;  // one JSON object per trace (the output also holds r1's own messages)
  std::istringstream rows(exported.output);
  for (std::string row; std::getline(rows, row);) lines += !row.empty() && row.front() == '{';
  CHECK(lines == stored);
}

TEST_CASE("truncated completions carry no loss when masked") {
  auto dir = fresh_dir("grpo_truncated");
  // Four new tokens end few completions: most samples are truncated.
  const std::string cut = " --set zero.sampling.max_tokens=4 --set zero.grpo.kl_beta=0";
  auto masked = zero_run(dir / "masked", cut + " --set zero.grpo.mask_truncated=true");
  INFO(masked.output);
  REQUIRE(masked.exit_code == 0);
  auto unmasked = zero_run(dir / "unmasked", cut);
  REQUIRE(unmasked.exit_code == 0);
  const auto with_mask = metric_steps(dir / "masked", "zero");
  const auto without = metric_steps(dir / "unmasked", "zero");
  REQUIRE(with_mask.size() == 3);
  REQUIRE(without.size() == 3);
  for (int i = 0; i < 3; ++i) {
    const double samples = with_mask[i]["trained_samples"].get<double>();
    const double truncated = with_mask[i]["truncated_share"].get<double>() * samples;
    CHECK(with_mask[i]["completion_tokens_max"].get<double>() <= 4.0);
    CHECK(truncated > 0);
    // Masked: only the untruncated samples' tokens (at most 4 each) carry loss; unmasked: every
    // truncated sample alone brings 4.
    CHECK(with_mask[i]["loss_tokens"].get<double>() <= 4.0 * (samples - truncated));
    CHECK(without[i]["loss_tokens"].get<double>() >= 4.0 * without[i]["truncated_share"].get<double>() * samples);
  }
  CHECK(with_mask[0]["loss_tokens"].get<double>() < without[0]["loss_tokens"].get<double>());  // same first batch
}

TEST_CASE("reference refresh every step: the KL to the reference is 0; without it the policy drifts away") {
  auto dir = fresh_dir("grpo_ref_refresh");
  const std::string common = " --set zero.grpo.kl_beta=0.1 --set zero.optimizer.lr=0.01";
  auto refreshed = zero_run(dir / "refreshed", common + " --set zero.grpo.ref_refresh_every=1");
  INFO(refreshed.output);
  REQUIRE(refreshed.exit_code == 0);
  auto fixed = zero_run(dir / "fixed", common);
  REQUIRE(fixed.exit_code == 0);
  const auto with_refresh = metric_steps(dir / "refreshed", "zero");
  const auto without = metric_steps(dir / "fixed", "zero");
  REQUIRE(with_refresh.size() == 3);
  REQUIRE(without.size() == 3);
  for (const auto& step : with_refresh) CHECK(step["kl"].get<double>() == doctest::Approx(0.0).epsilon(1e-9));
  CHECK(without[2]["kl"].get<double>() > 1e-4);
  // The refresh needs a reference to refresh.
  auto bad = zero_run(dir / "bad", " --set zero.grpo.kl_beta=0 --set zero.grpo.ref_refresh_every=5");
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("ref_refresh_every") != std::string::npos);
}

TEST_CASE("several updates per batch, micro-batches, checkpointed layers and the aux-free bias, from YAML") {
  auto dir = fresh_dir("grpo_mechanics");
  auto run = zero_run(dir / "run",
                      " --set zero.grpo.epochs=2 --set zero.grpo.mini_batches=2 --set zero.grpo.micro_batch_size=3"
                      " --set zero.grpo.activation_checkpointing=true --set model.router_correction_bias=true"
                      " --set zero.grpo.aux_free_bias_rate=0.001 --set zero.grpo.aux_loss_coef=0");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  for (const auto& step : metric_steps(dir / "run", "zero")) {
    CHECK(step["updates"].get<double>() == 4.0);
    CHECK(step["expert_load_imbalance"].get<double>() >= 1.0);
    CHECK(step["aux_loss"].get<double>() > 0.0);  // measured even with weight 0
    CHECK(step["learner_tokens_per_second"].get<double>() > 0.0);
    CHECK(step["rollout_tokens_per_second"].get<double>() > 0.0);
    CHECK(step.contains("reward/accuracy_std"));
  }
  // The bias is saved with the model: the zero model's config says so and its weights hold it.
  std::ifstream config(dir / "run/zero/model/config.json");
  CHECK(nlohmann::json::parse(config).value("router_correction_bias", false));

  // The bias update on a model without one is refused before any sampling, naming the key.
  auto bad = zero_run(dir / "bad", " --set zero.grpo.aux_free_bias_rate=0.001");
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("router_correction_bias") != std::string::npos);
}
