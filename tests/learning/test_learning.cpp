// The learning tests: a seeded pretrain + zero run of the demo config. GRPO must raise held-out
// accuracy (same prompts, same sampling seeds before and after) by a stated margin; so must the
// DAPO-style and Dr. GRPO settings, each re-running zero from the same pretrained base.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/stages/cli_runner.h"

namespace fs = std::filesystem;

namespace {

nlohmann::json summary(const fs::path& done) {
  std::ifstream in(done);
  return nlohmann::json::parse(in)["summary"];
}

const std::string kConfig = std::string(R1_SOURCE_DIR) + "/configs/tiny-zero.yaml";

// The seeded pretrain + zero run, once for every test case of this file.
const fs::path& base_run() {
  static const fs::path dir = [] {
    auto dir = fresh_dir("learning");
    auto run = r1("run " + kConfig + " --run-dir " + (dir / "run").string());
    INFO(run.output);
    REQUIRE(run.exit_code == 0);
    return dir / "run";
  }();
  return dir;
}

// zero again on a copy of the base run, with `settings`; returns its done.json summary.
nlohmann::json zero_variant(const std::string& name, const std::string& settings) {
  const auto& base = base_run();
  const auto dir = base.parent_path() / name;
  fs::remove_all(dir);
  fs::copy(base, dir, fs::copy_options::recursive);
  auto run = r1("run " + kConfig + " --only zero" + settings + " --run-dir " + dir.string());
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  return summary(dir / "zero/done.json");
}

}  // namespace

TEST_CASE("zero (GRPO) raises held-out accuracy over the pretrained base by at least 0.10") {
  const auto& run = base_run();
  const auto pretrain = summary(run / "pretrain/done.json");
  const auto zero = summary(run / "zero/done.json");
  const double accuracy_before = pretrain["eval_accuracy"].get<double>();
  const double accuracy_after = zero["eval_accuracy"].get<double>();
  const double format_before = zero["eval_format_before"].get<double>();
  const double format_after = zero["eval_format"].get<double>();
  MESSAGE("GRPO: held-out accuracy " << accuracy_before << " -> " << accuracy_after << ", format " << format_before
                                     << " -> " << format_after);
  CHECK(zero["eval_accuracy_before"].get<double>() == doctest::Approx(accuracy_before));  // same model, prompts, seeds
  CHECK(accuracy_before > 0.3);                    // pretraining taught the task in part (seed 1: 0.539)
  CHECK(accuracy_after >= accuracy_before + 0.10);  // GRPO's gain (seed 1: +0.273, seed 2: see README)
  CHECK(format_after >= format_before + 0.05);     // the corpus's missing-tag flaw is trained away (0.891 -> 0.992)
}

TEST_CASE("DAPO-style zero (clip-higher, token mean, dynamic sampling, overlong masking, no KL) gains >= 0.10") {
  const auto zero = zero_variant(
      "dapo", " --set zero.grpo.clip_high=0.28 --set zero.grpo.loss_aggregation=token_mean"
              " --set zero.grpo.dynamic_sampling=true --set zero.grpo.dynamic_sampling_max_rounds=3"
              " --set zero.grpo.mask_truncated=true --set zero.grpo.kl_beta=0");
  const double before = zero["eval_accuracy_before"].get<double>(), after = zero["eval_accuracy"].get<double>();
  MESSAGE("DAPO-style: held-out accuracy " << before << " -> " << after);
  CHECK(after >= before + 0.10);
}

TEST_CASE("Dr. GRPO zero (mean-only advantages, constant-length token sum, no KL) gains >= 0.10") {
  // Same learning rate as GRPO: AdamW normalises the step by the gradient's running RMS, so the
  // smaller gradients of the constant divisor (64 where completions run ~17 tokens) and of
  // unscaled advantages do not call for a larger rate; 3.3x GRPO's rate (1e-3) collapsed the
  // policy in CI (0.54 -> 0.29).
  const auto zero = zero_variant("dr_grpo", " --set zero.grpo.advantage.estimator=mean_only"
                                            " --set zero.grpo.loss_aggregation=seq_mean_token_sum"
                                            " --set zero.grpo.aggregation_length=64 --set zero.grpo.kl_beta=0");
  const double before = zero["eval_accuracy_before"].get<double>(), after = zero["eval_accuracy"].get<double>();
  MESSAGE("Dr. GRPO: held-out accuracy " << before << " -> " << after);
  CHECK(after >= before + 0.10);
}
