// `engine.kind` through `r1 run`: the zero stage generates its groups and evaluations on the paged
// engine (LibTorch runner) as on the CPU engine, every sample stored; a kind this machine cannot
// run, or that does not exist, is refused as a config error, exit 2, naming the key.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/stages/cli_runner.h"

namespace fs = std::filesystem;

namespace {
CommandResult zero_run(const fs::path& run_dir, const std::string& extra) {
  return r1("run " + kDemoConfig + kTinyRun + " --set stages=[pretrain,zero]" + extra + " --run-dir " +
            run_dir.string());
}
}  // namespace

TEST_CASE("engine.kind paged: the zero stage samples, stores and trains through the paged engine") {
  auto dir = fresh_dir("engine_paged");
  auto run = zero_run(dir / "run", " --set engine.kind=paged --set engine.block_tokens=8 --set engine.num_blocks=512");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(fs::exists(dir / "run/zero/done.json"));
  auto listed = r1("traces list --json --limit -1 --stage zero --db " + (dir / "run/traces.db").string());
  REQUIRE(listed.exit_code == 0);
  int64_t traces = 0;
  std::istringstream lines(listed.output);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line[0] == '{') ++traces;
  CHECK(traces == 2 * 2 * 4);  // zero.steps x prompts_per_step x group_size, every sample kept
}

TEST_CASE("engine.kind: cuda without a device, or an unknown kind, is a config error naming the key") {
  auto dir = fresh_dir("engine_refused");
  auto unknown = zero_run(dir / "a", " --set engine.kind=tpu");
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.output.find("engine.kind") != std::string::npos);
  auto bad_fraction = zero_run(dir / "b", " --set engine.memory_fraction=1.5");
  CHECK(bad_fraction.exit_code == 2);
  CHECK(bad_fraction.output.find("engine.memory_fraction") != std::string::npos);
  // This machine has no GPU (CI never does): the CUDA runner says so, or the build has none.
  auto cuda = zero_run(dir / "c", " --set engine.kind=cuda");
  INFO(cuda.output);
  if (cuda.exit_code == 0) {
    MESSAGE("a CUDA device is present: engine.kind=cuda ran");
  } else {
    CHECK(cuda.exit_code == 2);
    CHECK(cuda.output.find("cuda") != std::string::npos);
  }
}
