// Tests for the format reward's option for chat templates whose prompt already opened <think>.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "rewards/registry.h"

using namespace r1::rewards;

namespace {

RewardResult format(const std::string& completion, const nlohmann::json& options) {
  RewardInput input;
  input.completion = completion;
  return Registry::global().create("format", options)->score(input);
}

const nlohmann::json kOpened = {{"think_opened_by_prompt", true}};

}  // namespace

TEST_CASE("format: think_opened_by_prompt accepts a completion that starts inside the thinking") {
  CHECK(format("reasoning</think>\n<answer>42</answer>", kOpened).outcome == Outcome::pass);
  CHECK(format("\nreasoning\n</think> <answer>42</answer>\n", kOpened).score == 1.0);
  // Without the option the same completion lacks its <think>.
  CHECK(format("reasoning</think><answer>42</answer>", {}).reason == "missing <think>");
}

TEST_CASE("format: think_opened_by_prompt still wants each remaining tag once, in order") {
  struct Case {
    const char* completion;
    const char* reason;
  };
  const Case cases[] = {
      {"<think>reasoning</think><answer>42</answer>",
       "tag <think> appears in the completion, but the prompt already opened it"},
      {"reasoning<answer>42</answer>", "missing </think>"},
      {"reasoning</think>42", "missing <answer>; missing </answer>"},
      {"a</think>b</think><answer>42</answer>", "tag </think> appears 2 times"},
      {"<answer>42</answer></think>", "tags out of order: expected <think>, </think>, <answer>, </answer>"},
      {"reasoning</think> so <answer>42</answer>", "text between </think> and <answer>"},
      {"reasoning</think><answer>42</answer> more", "text after </answer>"},
      {"reasoning</think><answer> </answer>", "empty answer"},
  };
  for (const Case& c : cases) {
    INFO(c.completion);
    RewardResult result = format(c.completion, kOpened);
    CHECK(result.outcome == Outcome::fail);
    CHECK(result.score == 0.0);
    CHECK(result.reason == c.reason);
  }
  CHECK_THROWS_AS(format("", {{"think_opened_by_prompt", "yes"}}), r1::UserError);
}
