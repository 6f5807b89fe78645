// The C++ plug-in example (examples/cpp_reward/length_bonus.cpp), linked into this test binary as a
// user links it into theirs: its static registrar has put `length_bonus` in the global registry.
// Also register_function itself.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "common/error.h"
#include "rewards/registry.h"

using namespace r1::rewards;

TEST_CASE("cpp plug-in: the example's length_bonus is registered and scores") {
  REQUIRE(Registry::global().contains("length_bonus"));
  std::shared_ptr<const Reward> reward = compose_from_json({{"length_bonus", 0.5}, {"format", 1.0}});
  std::vector<RewardInput> inputs(3);
  inputs[0].completion = "<think>" + std::string(493, 'a') + "</think><answer>1</answer>";
  inputs[1].completion = "<think>" + std::string(5000, 'a') + "</think><answer>1</answer>";
  inputs[2].completion = "</think><answer>1</answer>";
  ScoringOptions options;
  options.timeout = std::chrono::milliseconds(5000);
  ScoredBatch batch = score_batch(reward, inputs, options);
  CHECK(batch.results[0].components.at("length_bonus") == doctest::Approx(0.5));  // 500 of 1000
  CHECK(batch.results[0].score == doctest::Approx(0.25 + 1.0));
  CHECK(batch.results[1].components.at("length_bonus") == 1.0);  // capped
  CHECK(batch.results[2].components.at("length_bonus") == 0.0);
  CHECK(batch.results[2].outcome == Outcome::fail);
  CHECK(batch.results[2].reason.find("length_bonus: no reasoning before the answer") != std::string::npos);
  CHECK(batch.summary.by_reward.at("length_bonus").passed == 2);

  bool listed = false;
  for (const RewardInfo& info : Registry::global().list()) {
    if (info.name != "length_bonus") continue;
    listed = true;
    CHECK(info.description.rfind("characters of the chain of thought", 0) == 0);
    CHECK(info.parameters.empty());
  }
  CHECK(listed);
}

TEST_CASE("register_function: no options, duplicate names refused, throws are crashes") {
  Registry local;
  CHECK(register_function("shout", "1 if the completion is upper case",
                          [](const RewardInput& input) {
                            if (input.completion.empty()) throw std::runtime_error("nothing to judge");
                            RewardResult result;
                            result.score = input.completion == "LOUD" ? 1.0 : 0.0;
                            return result;
                          },
                          local));
  CHECK_THROWS_AS(register_function("shout", "again", [](const RewardInput&) { return RewardResult{}; },
                                    local),
                  r1::UserError);
  CHECK_THROWS_AS(register_function("empty", "no function", RewardFunction{}, local), r1::UserError);
  CHECK_THROWS_WITH_AS(local.create("shout", {{"level", 3}}),
                       "reward 'shout' has no option 'level'; its options: (none)", r1::UserError);
  std::unique_ptr<Reward> shout = local.create("shout");
  CHECK(shout->name() == "shout");
  std::vector<RewardInput> inputs(3);
  inputs[0].completion = "LOUD";
  inputs[1].completion = "quiet";
  std::vector<RewardResult> results = score_batch(*shout, inputs, 2);
  CHECK(results[0].score == 1.0);
  CHECK(results[1].score == 0.0);
  CHECK(results[2].failure == Failure::crash);
  CHECK(results[2].reason == "nothing to judge");
}
