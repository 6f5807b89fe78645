// The C++ function kind of reward plug-in in a real `zero` run. Such a reward lives in the user's
// own executable, so the run is in-process here: this test binary is that executable
// (examples/CMakeLists.txt links examples/cpp_reward's OBJECT library into it), and `length_bonus`
// is in the registry before main, as it would be in theirs.
#include <doctest/doctest.h>

#include <string>

#include "stages/runner.h"
#include "tests/stages/test_support.h"

namespace {

int64_t count(const std::filesystem::path& db, const std::string& where) {
  auto out = run_command("sqlite3 " + db.string() + " \"select count(*) from sample_view where stage = 'zero' and " +
                         where + "\"");
  REQUIRE(out.exit_code == 0);
  return std::stoll(out.output);
}

}  // namespace

#ifdef R1_EXAMPLE_LENGTH_BONUS
TEST_CASE("zero runs with a C++ function reward registered in the user's own target") {
  auto dir = fresh_dir("plugins_cpp");
  r1::stages::RunOptions options;
  options.config_path = kDemoConfig;
  options.run_dir = (dir / "run").string();
  options.overrides = kTinyOverrides;
  options.overrides.push_back("zero.reward_scoring.on_failure=stop");  // a failed call ends the run: no silent zeros
  options.overrides.push_back("zero.rewards={accuracy: 1.0, length_bonus: 0.5}");
  r1::stages::run_pipeline(options);
  const auto db = dir / "run/traces.db";
  // 2 steps x 2 prompts x 4 samples, each scored by both.
  CHECK(count(db, "json_extract(components, '$.length_bonus') is not null") == 16);
  CHECK(count(db, "json_extract(components, '$.accuracy') is not null") == 16);
  // The stored component is the example's formula: bytes before </think> / 1000, capped at 1.
  const std::string think = "instr(CAST(completion AS BLOB), CAST('</think>' AS BLOB))";
  CHECK(count(db, "abs(json_extract(components, '$.length_bonus') - min(1.0, (case when " + think + " > 0 then " +
                      think + " - 1 else length(CAST(completion AS BLOB)) end) / 1000.0)) > 1e-9") == 0);
  CHECK(count(db, "json_extract(components, '$.length_bonus') > 0") > 0);
}
#else
TEST_CASE("C++ function reward in a zero run") { MESSAGE("skipped: examples/cpp_reward was not linked into the tests"); }
#endif
