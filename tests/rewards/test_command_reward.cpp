// The `command` plug-in with real child processes: the example program, and small sh scripts that
// die, hang, or print garbage.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "rewards/registry.h"

using namespace r1::rewards;

namespace {

std::shared_ptr<const Reward> command_reward(const nlohmann::json& command,
                                             nlohmann::json options = {}) {
  options["command"] = command;
  return Registry::global().create("command", options);
}

std::vector<RewardInput> inputs_with_responses(const std::vector<std::string>& responses) {
  std::vector<RewardInput> inputs;
  for (const std::string& response : responses) {
    RewardInput input;
    input.prompt = "q";
    input.completion = response;
    input.reference = "42";
    inputs.push_back(input);
  }
  return inputs;
}

ScoringOptions one_call(std::size_t items) {
  ScoringOptions options;
  options.threads = 1;
  options.batch_size = items;
  return options;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Answers {"reward": 2, "reason": "pid N"} to every line: shows which child answered.
const std::string kPidScript =
    R"(while read -r line; do echo "{\"reward\": 2, \"reason\": \"pid $$\"}"; done)";

}  // namespace

#ifdef R1_EXAMPLE_COMMAND_REWARD
TEST_CASE("command: the example program in examples/command_reward scores line by line") {
  auto reward = command_reward(nlohmann::json::array({R1_EXAMPLE_COMMAND_REWARD}), {{"processes", 2}});
  std::vector<std::string> responses;
  for (int i = 0; i < 30; ++i) {
    responses.push_back(i % 3 == 0 ? "<think>42?</think> 41" : "<think>hmm</think> it is 42");
  }
  ScoringOptions options;
  options.threads = 4;
  options.batch_size = 4;
  ScoredBatch batch = score_batch(reward, inputs_with_responses(responses), options);
  for (int i = 0; i < 30; ++i) {
    CAPTURE(i);
    const bool right = i % 3 != 0;
    CHECK(batch.results[i].score == (right ? 1.0 : 0.0));
    CHECK(batch.results[i].outcome == (right ? Outcome::pass : Outcome::fail));
    CHECK(batch.results[i].components.at("contains_answer") == (right ? 1.0 : 0.0));
    if (!right) CHECK(batch.results[i].reason == "the answer does not contain 42");
  }
  CHECK(batch.summary.failures() == 0);

  // A line of a megabyte goes through: writing waits for the child to read, it does not block.
  const RewardResult long_one =
      reward->score(inputs_with_responses({std::string(1 << 20, 'a') + " 42"})[0]);
  CHECK(long_one.outcome == Outcome::pass);
}
#endif

#ifdef R1_EXAMPLES_DIR
TEST_CASE("command: the Python example, where python3 is installed") {
  if (::access("/usr/bin/python3", X_OK) != 0) {
    MESSAGE("no /usr/bin/python3: the Python example is not run");
    return;
  }
  auto reward = command_reward(
      nlohmann::json::array({"/usr/bin/python3", "-u", std::string(R1_EXAMPLES_DIR) +
                                                           "/command_reward/contains_answer.py"}));
  ScoredBatch batch = score_batch(
      reward, inputs_with_responses({"<think>x</think>42", "<think>42</think>41"}), one_call(2));
  CHECK(batch.results[0].score == 1.0);
  CHECK(batch.results[1].score == 0.0);
  CHECK(batch.results[1].reason == "the answer does not contain 42");
}
#endif

TEST_CASE("command: a child that dies mid-stream fails the item in flight and is restarted") {
  // Answers one line, then takes the next and exits without answering it.
  auto reward = command_reward(R"(read -r line; echo '{"reward": 1}'; read -r line; exit 3)");
  ScoredBatch batch = score_batch(reward, inputs_with_responses({"a", "b", "c", "d", "e"}), one_call(5));
  CHECK(batch.results[0].score == 1.0);
  CHECK(batch.results[0].outcome == Outcome::pass);
  CHECK(batch.results[1].failure == Failure::crash);
  CHECK(batch.results[1].outcome == Outcome::error);
  CHECK(contains(batch.results[1].reason, "exited with status 3 before answering; it will be restarted"));
  CHECK(batch.results[2].score == 1.0);  // a fresh child
  CHECK(batch.results[3].failure == Failure::crash);
  CHECK(batch.results[4].score == 1.0);
  CHECK(batch.summary.by_reward.at("command").crashes == 2);
  CHECK(batch.summary.by_reward.at("command").passed == 3);
}

TEST_CASE("command: a child that hangs is killed at its limit and restarted") {
  const std::string script =
      R"(while read -r line; do case "$line" in *hang*) sleep 30;; *) echo "{\"reward\": 2, \"reason\": \"pid $$\"}";; esac; done)";
  auto reward = command_reward(script, {{"timeout_ms", 150}});
  ScoredBatch batch =
      score_batch(reward, inputs_with_responses({"fine", "hang here", "fine again"}), one_call(3));
  CHECK(batch.results[0].score == 2.0);
  CHECK(batch.results[1].failure == Failure::timeout);
  CHECK(batch.results[1].score == 0.0);
  CHECK(contains(batch.results[1].reason,
                 "gave no answer within 150 ms; it was killed and will be restarted"));
  CHECK(batch.results[2].score == 2.0);
  // Answered by another child than the first item: the stuck one was replaced.
  CHECK(batch.results[0].reason.rfind("pid ", 0) == 0);
  CHECK(batch.results[2].reason.rfind("pid ", 0) == 0);
  CHECK(batch.results[0].reason != batch.results[2].reason);
  CHECK(batch.summary.by_reward.at("command").timeouts == 1);
}

TEST_CASE("command: garbage on stdout fails the item and restarts the child to stay in step") {
  auto garbage = command_reward(R"(while read -r line; do echo 'Loading model...'; done)");
  const RewardResult result = garbage->score(inputs_with_responses({"x"})[0]);
  CHECK(result.failure == Failure::crash);
  CHECK(contains(result.reason, "answered with a line that is not JSON: \"Loading model...\"; "
                                "it was restarted to keep answers in step"));

  auto wrong_fields = command_reward(R"(while read -r line; do echo '{"score": 1}'; done)");
  const RewardResult missing = wrong_fields->score(inputs_with_responses({"x"})[0]);
  CHECK(missing.failure == Failure::crash);
  CHECK(contains(missing.reason, R"(answered against the protocol: the answer has no "reward": )"));

  auto judged_error = command_reward(
      R"(while read -r line; do echo '{"outcome": "error", "reason": "no reference"}'; done)");
  const RewardResult cannot_judge = judged_error->score(inputs_with_responses({"x"})[0]);
  CHECK(cannot_judge.outcome == Outcome::error);
  CHECK(cannot_judge.failure == Failure::none);  // the program judged: it is no failure
  CHECK(cannot_judge.reason == "no reference");
}

TEST_CASE("command: a child is kept between calls, and processes bounds how many run") {
  auto reward = command_reward(kPidScript, {{"processes", 2}});
  std::vector<std::string> responses(24, "x");
  ScoringOptions options;
  options.threads = 4;
  options.batch_size = 3;
  ScoredBatch batch = score_batch(reward, inputs_with_responses(responses), options);
  std::set<std::string> children;
  for (const RewardResult& result : batch.results) {
    CHECK(result.score == 2.0);
    children.insert(result.reason);
  }
  CHECK(children.size() >= 1);
  CHECK(children.size() <= 2);
}

TEST_CASE("command: a program that cannot start, or exits at once, fails each item with why") {
  auto missing = command_reward(nlohmann::json::array({"/nonexistent/scorer", "--fast"}));
  const RewardResult not_started = missing->score(inputs_with_responses({"x"})[0]);
  CHECK(not_started.failure == Failure::crash);
  CHECK(not_started.reason ==
        "command '/nonexistent/scorer --fast': cannot start /nonexistent/scorer: No such file or directory");

  auto quits = command_reward("exit 1");
  ScoredBatch batch = score_batch(quits, inputs_with_responses({"a", "b"}), one_call(2));
  for (const RewardResult& result : batch.results) {
    CHECK(result.failure == Failure::crash);
    CHECK(contains(result.reason, "exited with status 1 before answering"));
  }
}

TEST_CASE("command: options are checked when the reward is built") {
  CHECK_THROWS_AS(Registry::global().create("command"), r1::UserError);
  CHECK_THROWS_AS(command_reward(""), r1::UserError);
  CHECK_THROWS_AS(command_reward(nlohmann::json::array()), r1::UserError);
  CHECK_THROWS_AS(command_reward(nlohmann::json::array({"sh", 1})), r1::UserError);
  CHECK_THROWS_AS(command_reward("cat", {{"timeout_ms", -5}}), r1::UserError);
  CHECK_THROWS_AS(command_reward("cat", {{"processes", 0}}), r1::UserError);
  CHECK_THROWS_AS(command_reward("cat", {{"cwd", "/tmp"}}), r1::UserError);
}
