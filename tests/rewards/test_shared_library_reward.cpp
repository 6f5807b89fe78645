// The `shared_library` plug-in, loading real shared objects: the C example in
// examples/shared_library_reward, and tests/rewards/plugin_variants.c, whose entries each break one
// rule of the C ABI (rewards/r1_reward_plugin.h).
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "rewards/registry.h"

using namespace r1::rewards;

namespace {

RewardInput item(const std::string& completion, const std::string& reference = "42") {
  RewardInput input;
  input.prompt = "What is 6 x 7?";
  input.completion = completion;
  input.reference = reference;
  input.metadata = {{"kind", "mul"}};
  return input;
}

// The UserError text of building the reward, or "" when it builds.
std::string build_error(const nlohmann::json& options) {
  try {
    Registry::global().create("shared_library", options);
  } catch (const r1::UserError& error) {
    return error.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("shared_library: is registered, with its options documented") {
  bool found = false;
  for (const RewardInfo& info : Registry::global().list()) {
    if (info.name != "shared_library") continue;
    found = true;
    REQUIRE(info.parameters.size() == 3);
    CHECK(info.parameters[0].name == "path");
    CHECK(info.parameters[1].default_value == "r1_reward_plugin_get");
  }
  CHECK(found);
  CHECK(contains(build_error(nlohmann::json::object()), "needs option path"));
  CHECK(contains(build_error({{"path", "x.so"}, {"sybmol", "f"}}), "sybmol"));
}

#ifdef R1_EXAMPLE_SHARED_LIBRARY_REWARD
TEST_CASE("shared_library: the C example scores, records components and reasons, and takes options") {
  const std::string path = R1_EXAMPLE_SHARED_LIBRARY_REWARD;
  auto reward = Registry::global().create("shared_library", {{"path", path}});
  RewardResult hit = reward->score(item("<think>6 x 7 = 42</think> The answer is 42."));
  CHECK(hit.score == 1.0);
  CHECK(hit.outcome == Outcome::pass);
  CHECK(hit.components.at("contains_answer") == 1.0);
  CHECK(hit.reason.empty());
  // The reasoning holds 42 but the answer after </think> does not: only the answer counts.
  RewardResult miss = reward->score(item("<think>42?</think> It is 41."));
  CHECK(miss.score == 0.0);
  CHECK(miss.outcome == Outcome::fail);
  CHECK(miss.reason == "the answer does not contain 42");
  RewardResult empty_reference = reward->score(item("<think>?</think> 1", ""));
  CHECK(empty_reference.outcome == Outcome::error);
  CHECK(empty_reference.failure == Failure::none);  // a judgement ("cannot judge"), not a failure

  // Options go to the plug-in's create() as JSON; it refuses what it does not know.
  auto scaled = Registry::global().create("shared_library", {{"path", path}, {"options", {{"score_if_found", 0.25}}}});
  CHECK(scaled->score(item("</think>42")).score == 0.25);
  const std::string refused = build_error({{"path", path}, {"options", {{"score_if_fund", 1}}}});
  CHECK(contains(refused, path));
  CHECK(contains(refused, "unknown option"));
  CHECK(contains(build_error({{"path", path}, {"options", 3}}), "must be a map"));

  // A second entry of the same library, chosen with `symbol`: 42 must be the whole answer.
  auto strict = Registry::global().create("shared_library", {{"path", path}, {"symbol", "r1_example_strict_get"}});
  CHECK(strict->score(item("<think>x</think> 42 \n")).score == 1.0);
  CHECK(strict->score(item("<think>x</think> 420")).score == 0.0);
  CHECK(strict->score(item("<think>x</think> 420")).components.at("is_answer") == 0.0);
}

TEST_CASE("shared_library: a batch on several threads gives each item its own verdict") {
  std::shared_ptr<const Reward> reward =
      Registry::global().create("shared_library", {{"path", R1_EXAMPLE_SHARED_LIBRARY_REWARD}});
  std::vector<RewardInput> inputs;
  for (int i = 0; i < 400; ++i) inputs.push_back(item("<think>t</think> " + std::to_string(40 + i % 4)));
  ScoringOptions options;
  options.threads = 4;
  options.batch_size = 7;
  ScoredBatch batch = score_batch(reward, inputs, options);
  REQUIRE(batch.results.size() == inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) CHECK(batch.results[i].score == (i % 4 == 2 ? 1.0 : 0.0));
  CHECK(batch.summary.failures() == 0);
}
#else
TEST_CASE("shared_library: the C example") { MESSAGE("skipped: the examples were not built with the tests"); }
#endif

#ifdef R1_TEST_PLUGIN_VARIANTS
TEST_CASE("shared_library: a library that cannot be used is a config error naming the path and why") {
  const std::string path = R1_TEST_PLUGIN_VARIANTS;
  auto error_for = [&](const std::string& symbol) { return build_error({{"path", path}, {"symbol", symbol}}); };
  CHECK(build_error({{"path", path}, {"symbol", "variant_half"}}).empty());

  const std::string missing = build_error({{"path", "/nonexistent/libnope.so"}});
  CHECK(contains(missing, "cannot load /nonexistent/libnope.so"));
  CHECK(contains(error_for("r1_reward_plugin_get"), "exports no function r1_reward_plugin_get"));
  CHECK(contains(error_for("score_half"), "exports no function score_half"));  // static: not exported
  CHECK(contains(error_for("variant_old_abi"), "ABI version 2; this r1 speaks version 1"));
  CHECK(contains(error_for("variant_no_score"), "no score function"));
  CHECK(contains(error_for("variant_null"), "returned no plug-in"));
  const std::string refused = error_for("variant_refuses");
  CHECK(contains(refused, "refused its options {}"));
  CHECK(contains(refused, "(no reason given)"));
  for (const std::string& symbol : {"variant_old_abi", "variant_no_score", "variant_null", "variant_refuses"}) {
    CHECK(contains(error_for(symbol), path));
  }
  // Not a shared object at all: this very source file.
  CHECK(contains(build_error({{"path", std::string(R1_SOURCE_DIR) + "/tests/rewards/plugin_variants.c"}}),
                 "cannot load"));
}

TEST_CASE("shared_library: what crosses the boundary arrives whole") {
  auto echo = Registry::global().create("shared_library", {{"path", R1_TEST_PLUGIN_VARIANTS}, {"symbol", "variant_echo"}});
  RewardInput input = item("<think>é</think> 42");
  RewardResult result = echo->score(input);
  CHECK(result.score == static_cast<double>(input.completion.size()));
  CHECK(result.components.at("completion_bytes") == static_cast<double>(input.completion.size()));
  CHECK(result.reason == "14 " + std::to_string(input.completion.size()) + " 2 {\"kind\":\"mul\"}");
  input.metadata = nullptr;  // no metadata still arrives as an object
  CHECK(echo->score(input).reason == "14 " + std::to_string(input.completion.size()) + " 2 {}");
}

TEST_CASE("shared_library: a plug-in that fails, lies or runs over its limit is a recorded failure") {
  const std::string path = R1_TEST_PLUGIN_VARIANTS;
  auto scored = [&](const std::string& symbol, ScoringOptions options = {}) {
    std::shared_ptr<const Reward> reward =
        Registry::global().create("shared_library", {{"path", path}, {"symbol", symbol}});
    return score_batch(reward, std::vector<RewardInput>(3, item("</think>42")), options);
  };
  ScoredBatch fails = scored("variant_fails");
  for (const RewardResult& result : fails.results) {
    CHECK(result.failure == Failure::crash);
    CHECK(result.score == 0.0);
    CHECK(contains(result.reason, "failed (returned 7): the judge's model file is missing"));
  }
  CHECK(fails.summary.failures() == 3);
  CHECK(scored("variant_nan").results[0].failure == Failure::crash);
  const RewardResult bad_component = scored("variant_nan_component").results[0];
  CHECK(bad_component.failure == Failure::crash);
  CHECK(contains(bad_component.reason, "component part"));
  const RewardResult bad_outcome = scored("variant_bad_outcome").results[0];
  CHECK(bad_outcome.failure == Failure::crash);
  CHECK(contains(bad_outcome.reason, "outcome 9"));

  ScoringOptions limited;
  limited.timeout = std::chrono::milliseconds(100);
  limited.batch_size = 1;
  ScoredBatch slow = scored("variant_slow", limited);
  for (const RewardResult& result : slow.results) CHECK(result.failure == Failure::timeout);

  ScoringOptions stop;
  stop.on_failure = FailurePolicy::stop;
  CHECK_THROWS_AS(scored("variant_fails", stop), RewardFailure);
  CHECK(scored("variant_half", stop).results[2].score == 0.5);
}
#else
TEST_CASE("shared_library: the ABI variants") { MESSAGE("skipped: the variants library was not built"); }
#endif
