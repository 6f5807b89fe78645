// Tests for the repetition reward: -(1 - distinct n-grams / all n-grams) * max_penalty, with
// hand-computed values.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "rewards/registry.h"

using namespace r1::rewards;

namespace {

RewardResult repetition(const std::string& completion, const nlohmann::json& options = {}) {
  RewardInput input;
  input.completion = completion;
  return Registry::global().create("repetition", options)->score(input);
}

}  // namespace

TEST_CASE("repetition: hand-computed shares of repeated trigrams") {
  // No repeats: 0, and no reason.
  RewardResult fresh = repetition("the quick brown fox jumps over the lazy dog");
  CHECK(fresh.score == 0.0);
  CHECK(fresh.components.at("repetition") == 0.0);
  CHECK(fresh.outcome == Outcome::pass);
  CHECK(fresh.reason.empty());
  // "a b c a b c": words a b c a b c -> trigrams abc bca cab abc: 4 total, 3 distinct -> -1/4.
  RewardResult twice = repetition("a b c a b c");
  CHECK(twice.score == doctest::Approx(-0.25));
  CHECK(twice.reason == "1 of 4 3-grams repeat an earlier one");
  // "x x x x x x": 6 words -> 4 trigrams, all "x x x": 1 distinct -> -(1 - 1/4) = -0.75.
  CHECK(repetition("x x x x x x").score == doctest::Approx(-0.75));
  // Case and punctuation do not hide a loop: "Wait, wait. WAIT wait" -> wait x4 -> 2 trigrams, 1
  // distinct -> -0.5.
  CHECK(repetition("Wait, wait. WAIT wait").score == doctest::Approx(-0.5));
  // Numbers are words: "1 2 3 1 2 3" like "a b c a b c".
  CHECK(repetition("1 2 3 1 2 3").score == doctest::Approx(-0.25));
  // Han characters are words: 我我我我 -> 2 trigrams, 1 distinct.
  CHECK(repetition("我我我我").score == doctest::Approx(-0.5));
  // Fewer words than n: no n-grams, no penalty.
  CHECK(repetition("hello world").score == 0.0);
  CHECK(repetition("").score == 0.0);
}

TEST_CASE("repetition: a long loop approaches -max_penalty") {
  std::string loop;
  for (int i = 0; i < 1000; ++i) loop += "so the answer is ";
  // 4000 words, 3998 trigrams, 4 distinct: -(1 - 4/3998).
  CHECK(repetition(loop).score == doctest::Approx(-(1.0 - 4.0 / 3998.0)));
  CHECK(repetition(loop, {{"max_penalty", 0.5}}).score == doctest::Approx(-0.5 * (1.0 - 4.0 / 3998.0)));
}

TEST_CASE("repetition: option n changes the unit; options are checked") {
  // Unigrams: "a b a" -> 3 total, 2 distinct -> -1/3. Bigrams: ab ba -> 0.
  CHECK(repetition("a b a", {{"n", 1}}).score == doctest::Approx(-1.0 / 3.0));
  CHECK(repetition("a b a", {{"n", 2}}).score == 0.0);
  // 4-grams of "a b c d a b c d": abcd bcda cdab dabc abcd -> 5 total, 4 distinct.
  CHECK(repetition("a b c d a b c d", {{"n", 4}}).score == doctest::Approx(-0.2));
  CHECK_THROWS_AS(repetition("", {{"n", 0}}), r1::UserError);
  CHECK_THROWS_AS(repetition("", {{"n", 33}}), r1::UserError);
  CHECK_THROWS_AS(repetition("", {{"n", 2.5}}), r1::UserError);
  CHECK_THROWS_AS(repetition("", {{"max_penalty", -1}}), r1::UserError);
  CHECK_THROWS_AS(repetition("", {{"ngram", 3}}), r1::UserError);
}
