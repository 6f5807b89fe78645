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

TEST_CASE("zero (GRPO) raises held-out accuracy over the pretrained base by at least 0.10") {
  auto dir = fresh_dir("learning");
  const std::string config = std::string(R1_SOURCE_DIR) + "/configs/tiny-zero.yaml";
  auto run = r1("run " + config + " --run-dir " + (dir / "run").string());
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const auto pretrain = summary(dir / "run/pretrain/done.json");
  const auto zero = summary(dir / "run/zero/done.json");
  const double before = pretrain["eval_accuracy"].get<double>();
  const double zero_before = zero["eval_accuracy_before"].get<double>();
  const double after = zero["eval_accuracy"].get<double>();
  MESSAGE("held-out accuracy: pretrain " << before << " -> zero " << after);
  CHECK(zero_before == doctest::Approx(before));  // the same model, prompts and seeds
  CHECK(before > 0.05);                           // pretraining taught the task somewhat
  CHECK(after >= before + 0.10);
  CHECK(zero["eval_format"].get<double>() >= zero["eval_format_before"].get<double>());
}
