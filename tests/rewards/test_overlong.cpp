// Tests for the overlong reward (DAPO's soft overlong punishment), with hand-computed values.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "rewards/registry.h"

using namespace r1::rewards;

namespace {

RewardResult overlong(const std::string& completion, const nlohmann::json& options,
                      const nlohmann::json& metadata = nlohmann::json::object()) {
  RewardInput input;
  input.completion = completion;
  input.metadata = metadata;
  return Registry::global().create("overlong", options)->score(input);
}

RewardResult overlong_tokens(long long tokens, const nlohmann::json& options) {
  return overlong("", options, {{"num_tokens", tokens}});
}

}  // namespace

TEST_CASE("overlong: 0 up to max_length - buffer, linear to -1 at max_length, -1 beyond") {
  const nlohmann::json options = {{"max_length", 100}, {"buffer", 20}};
  struct Case {
    long long tokens;
    double score;
  };
  // Soft limit 80: (80 - L) / 20 inside (80, 100].
  const Case cases[] = {{0, 0.0},     {50, 0.0},    {80, 0.0},   {81, -0.05}, {85, -0.25},
                        {90, -0.5},   {99, -0.95},  {100, -1.0}, {101, -1.0}, {1000000, -1.0}};
  for (const Case& c : cases) {
    CAPTURE(c.tokens);
    RewardResult result = overlong_tokens(c.tokens, options);
    CHECK(result.score == doctest::Approx(c.score));
    CHECK(result.components.at("overlong") == doctest::Approx(c.score));
    CHECK(result.outcome == (c.score < 0 ? Outcome::fail : Outcome::pass));
  }
  CHECK(overlong_tokens(90, options).reason ==
        "90 tokens > 80 (inside the buffer before max_length 100)");
  CHECK(overlong_tokens(120, options).reason == "120 tokens > 80 and over max_length 100");
  CHECK(overlong_tokens(80, options).reason.empty());
}

TEST_CASE("overlong: without num_tokens the length is in Unicode code points") {
  const nlohmann::json options = {{"max_length", 10}, {"buffer", 4}};
  CHECK(overlong("123456", options).score == 0.0);                        // 6 <= 6
  CHECK(overlong("1234567", options).score == doctest::Approx(-0.25));    // (6 - 7) / 4
  // Eight Chinese characters are 24 bytes but 8 code points: (6 - 8) / 4.
  RewardResult chinese = overlong("我们先计算结果是", options);
  CHECK(chinese.score == doctest::Approx(-0.5));
  CHECK(chinese.reason == "8 code points > 6 (inside the buffer before max_length 10)");
  CHECK(overlong(std::string(11, 'x'), options).score == -1.0);
}

TEST_CASE("overlong: defaults, checked options and metadata") {
  // DAPO's defaults: 20480 with a 4096 buffer.
  CHECK(overlong_tokens(16384, {}).score == 0.0);
  CHECK(overlong_tokens(18432, {}).score == doctest::Approx(-0.5));
  CHECK(overlong_tokens(20481, {}).score == -1.0);
  // With only max_length, the buffer is a fifth of it (DAPO's proportion).
  CHECK(overlong_tokens(900, {{"max_length", 1000}}).score == doctest::Approx(-0.5));
  CHECK(overlong_tokens(0, {{"max_length", 1}, {"buffer", 1}}).score == 0.0);
  CHECK(overlong_tokens(1, {{"max_length", 1}, {"buffer", 1}}).score == -1.0);
  CHECK_THROWS_AS(overlong("", {{"max_length", 0}}), r1::UserError);
  CHECK_THROWS_AS(overlong("", {{"max_length", 10}, {"buffer", 11}}), r1::UserError);
  CHECK_THROWS_AS(overlong("", {{"max_length", "10"}}), r1::UserError);
  CHECK_THROWS_AS(overlong("", {{"max_len", 10}}), r1::UserError);
  RewardResult bad = overlong("", {}, {{"num_tokens", -3}});
  CHECK(bad.outcome == Outcome::error);
  CHECK(bad.score == 0.0);
  CHECK(bad.reason == "metadata num_tokens is -3, not a non-negative integer");
}
