// Tests for rewards/bench: the benchmark runs and reports what it measured (never its speed).
#include <doctest/doctest.h>

#include "common/error.h"
#include "rewards/bench.h"

TEST_CASE("bench_rewards: reports completions, time and a plausible mean reward") {
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    const nlohmann::json result = r1::rewards::bench_rewards(300, threads);
    CHECK(result.at("completions") == 300);
    CHECK(result.at("threads") == threads);
    CHECK(result.at("rewards") == "format+language_consistency+math_accuracy");
    CHECK(result.at("seconds").get<double>() > 0.0);
    CHECK(result.at("per_second").get<double>() > 0.0);
    // Every completion is well formed (format 1); four fifths are right (math_accuracy 1); the
    // thinking is English except for one German sentence in every seventh completion.
    const double mean = result.at("mean_reward").get<double>();
    CHECK(mean > 2.7);
    CHECK(mean < 2.85);
  }
  CHECK_THROWS_AS(r1::rewards::bench_rewards(0, 1), r1::UserError);
  CHECK_THROWS_AS(r1::rewards::bench_rewards(10, 0), r1::UserError);
}
