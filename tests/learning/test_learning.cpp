// The learning test: a seeded pretrain + zero run of the demo config. GRPO must raise held-out
// accuracy (same prompts, same sampling seeds before and after) by a stated margin.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/stages/cli_runner.h"

namespace {
nlohmann::json summary(const std::filesystem::path& done) {
  std::ifstream in(done);
  return nlohmann::json::parse(in)["summary"];
}
}  // namespace

TEST_CASE("zero (GRPO) raises the held-out reward over the pretrained base; accuracy does not fall") {
  auto dir = fresh_dir("learning");
  const std::string config = std::string(R1_SOURCE_DIR) + "/configs/tiny-zero.yaml";
  auto run = r1("run " + config + " --run-dir " + (dir / "run").string());
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const auto pretrain = summary(dir / "run/pretrain/done.json");
  const auto zero = summary(dir / "run/zero/done.json");
  const double accuracy_before = pretrain["eval_accuracy"].get<double>();
  const double accuracy_after = zero["eval_accuracy"].get<double>();
  const double format_before = zero["eval_format_before"].get<double>();
  const double format_after = zero["eval_format"].get<double>();
  // The reward zero optimises: accuracy + 0.5 * format (configs/tiny-zero.yaml).
  const double reward_before = accuracy_before + 0.5 * format_before;
  const double reward_after = accuracy_after + 0.5 * format_after;
  MESSAGE("held-out accuracy " << accuracy_before << " -> " << accuracy_after << ", format " << format_before
                               << " -> " << format_after << ", reward " << reward_before << " -> " << reward_after);
  CHECK(zero["eval_accuracy_before"].get<double>() == doctest::Approx(accuracy_before));  // same model, prompts, seeds
  CHECK(accuracy_before > 0.15);                 // pretraining taught the task in part
  CHECK(reward_after >= reward_before + 0.05);   // GRPO raised what it optimises
  CHECK(format_after >= format_before + 0.08);   // the corpus's missing-tag flaw is trained away
  CHECK(accuracy_after >= accuracy_before - 0.03);  // without paying for it in accuracy
}
