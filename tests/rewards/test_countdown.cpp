// Tests for the countdown reward: exact evaluation, number use, reasons, metadata errors.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "rewards/registry.h"

using namespace r1::rewards;

namespace {

RewardResult countdown(const std::string& answer, const nlohmann::json& metadata,
                       const std::string& reference = "", const nlohmann::json& options = {}) {
  RewardInput input;
  input.completion = "<think>try things</think> <answer>" + answer + "</answer>";
  input.metadata = metadata;
  input.reference = reference;
  return Registry::global().create("countdown", options)->score(input);
}

const nlohmann::json kGame = {{"numbers", {4, 6, 8, 2}}, {"target", 24}};

}  // namespace

TEST_CASE("countdown: exact expressions of the given numbers that hit the target pass") {
  const nlohmann::json game = {{"numbers", {4, 6, 8, 2}}, {"target", 24}};
  struct Case {
    const char* answer;
    const char* reason;  // empty: passes
  };
  const Case cases[] = {
      {"4 * 6", ""},
      {"(8 - 2) * 4", ""},
      {"6 * 8 / 2", ""},
      {"2 * (8 + 4)", ""},
      {"(4 + 8) * 2", ""},
      {"  8*6/2  ", ""},
      {"(6 + 2) * (8 - 4) - 8", "uses 8 more often than given"},
      {"6 * 4 * (8 / 8)", "uses 8 more often than given"},
      {"24", "uses 24, which is not among the numbers"},
      {"4 * 6 + 2 - 8", "evaluates to 18, not 24"},
      {"8 / 6", "evaluates to 4/3, not 24"},
  };
  for (const Case& c : cases) {
    INFO(c.answer);
    RewardResult result = countdown(c.answer, game);
    const bool should_pass = c.reason[0] == '\0';
    CHECK(result.outcome == (should_pass ? Outcome::pass : Outcome::fail));
    CHECK(result.score == (should_pass ? 1.0 : 0.0));
    CHECK(result.components.at("countdown") == result.score);
    CHECK(result.reason == c.reason);
  }
}

TEST_CASE("countdown: division is exact, not integer or floating") {
  const nlohmann::json game = {{"numbers", {1, 3, 4, 6}}, {"target", 24}};
  // The classic: 6 / (1 - 3/4) = 24 needs exact rationals.
  RewardResult exact = countdown("6 / (1 - 3 / 4)", game);
  CHECK(exact.outcome == Outcome::pass);
  CHECK(exact.score == 1.0);
  CHECK(exact.components.at("countdown") == 1.0);
  // 7 / 2 * 2 is 7 exactly (integer division would give 6).
  CHECK(countdown("7 / 2 * 2", {{"numbers", {7, 2, 2}}, {"target", 7}}).outcome == Outcome::pass);
  RewardResult fraction = countdown("6 / 4", game);
  CHECK(fraction.outcome == Outcome::fail);
  CHECK(fraction.reason == "evaluates to 3/2, not 24");
  RewardResult zero = countdown("6 / (4 - 4)", {{"numbers", {6, 4, 4}}, {"target", 1}});
  CHECK(zero.outcome == Outcome::fail);
  CHECK(zero.reason == "not an arithmetic expression of the numbers: division by zero");
}

TEST_CASE("countdown: each number at most once, only the given ones") {
  const nlohmann::json game = {{"numbers", {2, 3, 3}}, {"target", 9}};
  CHECK(countdown("3 * 3", game).outcome == Outcome::pass);      // 3 is given twice
  RewardResult twice = countdown("3 * 3", {{"numbers", {2, 3}}, {"target", 9}});
  CHECK(twice.outcome == Outcome::fail);
  CHECK(twice.reason == "uses 3 more often than given");
  RewardResult foreign = countdown("9", game);
  CHECK(foreign.reason == "uses 9, which is not among the numbers");
  // With use_all_numbers every number must be used exactly once.
  const nlohmann::json all = {{"use_all_numbers", true}};
  RewardResult unused = countdown("3 * 3", game, "", all);
  CHECK(unused.outcome == Outcome::fail);
  CHECK(unused.reason == "does not use 2");
  CHECK(countdown("3 * 3 * 2 - 3 * 3", {{"numbers", {3, 3, 2, 3, 3}}, {"target", 9}}, "", all)
            .outcome == Outcome::pass);
}

TEST_CASE("countdown: what is not an expression of the numbers fails with a reason") {
  const nlohmann::json game = {{"numbers", {2, 3, 4}}, {"target", 10}};
  struct Case {
    const char* answer;
    const char* reason;
  };
  const Case cases[] = {
      {"2 * 3 + 4", ""},
      {"2 × 3 + 4", ""},
      {"2 \\times 3 + 4", ""},
      {"2 * 3 + 4 = 10", ""},
      {"(2 * 3) + 4", ""},
      {"2 * 3 + 4 = 11", "claims 11 but the target is 10"},
      {"-2 + 3 * 4", "not an arithmetic expression of the numbers: a sign before a number is not allowed; use the numbers as given"},
      {"2 3 + 4", "not an arithmetic expression of the numbers: unexpected \"3\" at position 3"},
      {"2(3) + 4", "not an arithmetic expression of the numbers: unexpected \"(\" at position 2"},
      {"2.0 * 3 + 4", "not an arithmetic expression of the numbers: only whole numbers can be used"},
      {"2 ** 3 + 4", "not an arithmetic expression of the numbers: unexpected \"*\" at position 4"},
      {"(2 * 3 + 4", "not an arithmetic expression of the numbers: a '(' is never closed"},
      {"2 * 3 +", "not an arithmetic expression of the numbers: the expression ends too early"},
      {"x = 2 * 3 + 4", "not an arithmetic expression of the numbers: unexpected \"x\" at position 1"},
      {"2 * 3 + 4 + 1", "uses 1, which is not among the numbers"},
      {"2 + 3 + 4", "evaluates to 9, not 10"},
  };
  for (const Case& c : cases) {
    INFO(c.answer);
    RewardResult result = countdown(c.answer, game);
    CHECK(result.outcome == (c.reason[0] ? Outcome::fail : Outcome::pass));
    CHECK(result.reason == c.reason);
  }
}

TEST_CASE("countdown: the answer region, the target source and metadata errors") {
  RewardInput input;
  input.metadata = {{"numbers", {5, 5}}};
  input.reference = "10";  // no metadata target: the reference is the target
  auto reward = r1::rewards::Registry::global().create("countdown");
  input.completion = "<think><answer>5 + 5</answer></think> I give up";
  RewardResult inside = reward->score(input);
  CHECK(inside.outcome == Outcome::fail);
  CHECK(inside.reason == "no <answer>...</answer> after the thinking");
  input.completion = "<think>hm</think><answer>5 + 5</answer>";
  CHECK(reward->score(input).outcome == Outcome::pass);
  input.reference = "-0";
  input.metadata = {{"numbers", {5, 5}}, {"target", 0}};  // metadata wins over the reference
  input.completion = "<answer>5 - 5</answer>";
  CHECK(reward->score(input).outcome == Outcome::pass);

  for (const nlohmann::json& metadata :
       {nlohmann::json::object(), nlohmann::json{{"numbers", "1 2"}},
        nlohmann::json{{"numbers", {1, 2.5}}, {"target", 3}},
        nlohmann::json{{"numbers", {1, 2}}, {"target", "three"}}}) {
    INFO(metadata.dump());
    input.metadata = metadata;
    input.reference = "";
    RewardResult result = reward->score(input);
    CHECK(result.outcome == Outcome::error);
    CHECK(result.score == 0.0);
  }
  input.metadata = {{"numbers", {1, 2}}};
  input.reference = "3.5";
  CHECK(reward->score(input).reason == "no integer target in metadata \"target\" or the reference");
}

TEST_CASE("countdown: bounded work and checked options") {
  std::string deep(100000, '(');
  RewardResult nested = countdown(deep, kGame, "", {{"max_answer_chars", 100000}});
  CHECK(nested.outcome == Outcome::fail);
  CHECK(nested.reason == "not an arithmetic expression of the numbers: nested too deeply");
  RewardResult long_answer = countdown(std::string(300, '1'), kGame);
  CHECK(long_answer.reason == "answer has 300 characters, more than max_answer_chars=256");
  CHECK_THROWS_AS(countdown("1", kGame, "", {{"use_all", true}}), r1::UserError);
  CHECK_THROWS_AS(countdown("1", kGame, "", {{"use_all_numbers", 1}}), r1::UserError);
  CHECK_THROWS_AS(countdown("1", kGame, "", {{"max_answer_chars", -1}}), r1::UserError);
}
