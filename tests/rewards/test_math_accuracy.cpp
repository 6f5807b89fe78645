// Tests for the math_accuracy reward: answer extraction (boxed, <answer>, ####), the one-answer
// policy, outcomes and reasons, options, and every GSM8K test solution against its own answer.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "rewards/registry.h"

using namespace r1::rewards;

namespace {

RewardResult math_score(const std::string& completion, const std::string& reference,
                        const nlohmann::json& options = {}) {
  RewardInput input;
  input.completion = completion;
  input.reference = reference;
  return Registry::global().create("math_accuracy", options)->score(input);
}

bool passes(const std::string& completion, const std::string& reference,
            const nlohmann::json& options = {}) {
  return math_score(completion, reference, options).outcome == Outcome::pass;
}

bool reason_has(const RewardResult& result, const std::string& part) {
  return result.reason.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("math_accuracy: pass and fail carry the score, the component and a reason") {
  RewardResult right = math_score("<think>half of one</think> The answer is \\boxed{\\frac{1}{2}}.", "0.5");
  CHECK(right.outcome == Outcome::pass);
  CHECK(right.score == 1.0);
  CHECK(right.components == std::map<std::string, double>{{"math_accuracy", 1.0}});
  CHECK(right.reason.empty());

  RewardResult wrong = math_score("<think>hmm</think> \\boxed{\\frac{1}{3}}", "0.5");
  CHECK(wrong.outcome == Outcome::fail);
  CHECK(wrong.score == 0.0);
  CHECK(wrong.components.at("math_accuracy") == 0.0);
  CHECK(wrong.reason == "answer \"\\frac{1}{3}\" != reference \"0.5\"");
}

TEST_CASE("math_accuracy: no answer found is an error outcome with score 0") {
  for (const char* completion :
       {"", "the answer is 5", "<think>\\boxed{5}</think> so five", "<think>x</think> \\boxed{5",
        "<answer>5", "<think><answer>5</answer></think>"}) {
    INFO(completion);
    RewardResult result = math_score(completion, "5");
    CHECK(result.outcome == Outcome::error);
    CHECK(result.score == 0.0);
    CHECK(result.components.at("math_accuracy") == 0.0);
    CHECK(result.reason == "no answer found");
  }
  RewardResult no_reference = math_score("\\boxed{5}", "  ");
  CHECK(no_reference.outcome == Outcome::error);
  CHECK(no_reference.reason == "empty reference");
}

TEST_CASE("math_accuracy: \\boxed with nested braces; only the answer after </think> counts") {
  CHECK(passes("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt3}{2}"));
  CHECK(passes("so $\\boxed{\\{1, 2\\}}$", "\\{2, 1\\}"));
  CHECK(passes("\\boxed 7", "7"));
  CHECK(passes("\\fbox{7}", "7"));
  CHECK(passes("<think>maybe \\boxed{3}</think> final: \\boxed{5}", "5"));  // drafts don't count
  CHECK_FALSE(passes("<think>surely \\boxed{5}</think> final: \\boxed{3}", "5"));
  // A reference that is a worked solution: its last box (or #### line) is the answer.
  CHECK(passes("\\boxed{12}", "We add them, so the total is $\\boxed{12}$."));
  CHECK(passes("\\boxed{12}", "Add them: 5+7=12\n#### 12"));
}

TEST_CASE("math_accuracy: several different answers are never rewarded") {
  RewardResult two_boxes = math_score("\\boxed{3} or maybe \\boxed{5}", "5");
  CHECK(two_boxes.outcome == Outcome::fail);
  CHECK(reason_has(two_boxes, "several different answers"));
  CHECK_FALSE(passes("\\boxed{5} \\boxed{3}", "5"));
  CHECK_FALSE(passes("\\boxed{5}\n<answer>6</answer>", "5"));   // across forms too
  CHECK_FALSE(passes("\\boxed{5}\n#### 6", "5"));
  CHECK_FALSE(passes("<answer>4</answer><answer>5</answer>", "5"));
  CHECK_FALSE(passes("\\boxed{3, 4, 5}", "5"));
  CHECK_FALSE(passes("\\boxed{5 \\text{ or } 6}", "5"));
  CHECK_FALSE(passes("\\boxed{5 or 6}", "5"));
  // The same answer stated twice, or written two ways, is one answer.
  CHECK(passes("\\boxed{5} so again \\boxed{5}", "5"));
  CHECK(passes("\\boxed{\\frac12} that is \\boxed{0.5}", "1/2"));
  CHECK(passes("<answer>\\boxed{5}</answer>", "5"));
  CHECK(passes("<answer>The answer is \\boxed{5}</answer>", "5"));
  CHECK(passes("\\boxed{18}\n#### 18", "18"));
  // More boxes than anyone needs: refused without comparing them all.
  std::string many;
  for (int i = 0; i < 40; ++i) many += "\\boxed{5} ";
  RewardResult spam = math_score(many, "5");
  CHECK(spam.outcome == Outcome::fail);
  CHECK(reason_has(spam, "more than 16 boxed answers"));
}

TEST_CASE("math_accuracy: <answer> tags and #### lines, with answer phrases stripped") {
  CHECK(passes("<think>x</think><answer>42</answer>", "42"));
  CHECK(passes("<think>x</think><answer> The final answer is: 42. </answer>", "42"));
  CHECK(passes("<answer>Answer: $1,234$</answer>", "1234"));
  CHECK(passes("Natalia sold 48/2 = 24 clips in May.\n#### 72", "72"));
  CHECK(passes("#### $1,000", "1000"));
  CHECK_FALSE(passes("#### 71", "72"));
  RewardResult empty = math_score("<answer>  </answer>", "1");
  CHECK(empty.outcome == Outcome::fail);
  CHECK(empty.reason == "empty answer");
}

TEST_CASE("math_accuracy: the extract option picks and orders the answer forms") {
  const nlohmann::json only_gsm8k = {{"extract", {"gsm8k"}}};
  CHECK(passes("#### 5", "5", only_gsm8k));
  RewardResult ignored = math_score("\\boxed{5}", "5", only_gsm8k);
  CHECK(ignored.outcome == Outcome::error);
  CHECK(ignored.reason == "no answer found");
  const nlohmann::json tag_only = {{"extract", {"answer_tag"}}};
  CHECK(passes("\\boxed{6} <answer>5</answer>", "5", tag_only));  // boxes are not looked at
  CHECK(passes("<answer>5</answer>", "5", {{"extract", {"boxed", "answer_tag"}}}));
}

TEST_CASE("math_accuracy: options are checked") {
  CHECK_THROWS_AS(math_score("", "1", {{"extract", {"box"}}}), r1::UserError);
  CHECK_THROWS_AS(math_score("", "1", {{"extract", nlohmann::json::array()}}), r1::UserError);
  CHECK_THROWS_AS(math_score("", "1", {{"extract", "boxed"}}), r1::UserError);
  CHECK_THROWS_AS(math_score("", "1", {{"extract", {"boxed", "boxed"}}}), r1::UserError);
  CHECK_THROWS_AS(math_score("", "1", {{"max_answer_chars", 0}}), r1::UserError);
  CHECK_THROWS_AS(math_score("", "1", {{"extrct", {"boxed"}}}), r1::UserError);
  RewardResult too_long = math_score("\\boxed{" + std::string(600, '1') + "}", "1");
  CHECK(too_long.outcome == Outcome::fail);
  CHECK(reason_has(too_long, "more than max_answer_chars=512"));
  CHECK(passes("\\boxed{" + std::string(600, '1') + "}", std::string(600, '1'),
               {{"max_answer_chars", 1000}}));
}

TEST_CASE("math_accuracy: pathological completions are judged quickly") {
  std::string braces = "\\boxed{" + std::string(2'000'000, '{');
  CHECK(math_score(braces, "1").outcome == Outcome::error);  // never closed: no answer
  std::string long_think = "<think>" + std::string(4'000'000, 'x') + "</think>\\boxed{1}";
  CHECK(passes(long_think, "1"));
  std::string hashes(1'000'000, '#');
  CHECK(math_score(hashes, "1").outcome != Outcome::pass);
}

namespace {

// The number after "####" in a GSM8K solution, and the solution with that number changed.
struct Gsm8kSolution {
  std::string final_answer;
  std::string with_wrong_answer;
};

Gsm8kSolution split_gsm8k(const std::string& solution) {
  const std::size_t marker = solution.rfind("####");
  REQUIRE(marker != std::string::npos);
  std::string final_answer = solution.substr(marker + 4);
  while (!final_answer.empty() && final_answer.front() == ' ') final_answer.erase(0, 1);
  // Change the last digit: 18 -> 19, 70000 -> 70001, 29 -> 20, -3 -> -4.
  std::string wrong = final_answer;
  const std::size_t last_digit = wrong.find_last_of("0123456789");
  REQUIRE(last_digit != std::string::npos);
  wrong[last_digit] = wrong[last_digit] == '9' ? '0' : static_cast<char>(wrong[last_digit] + 1);
  return {final_answer, solution.substr(0, marker) + "#### " + wrong};
}

}  // namespace

TEST_CASE("math_accuracy: every GSM8K test solution matches its own answer, and not a changed one") {
  const std::string path = R1_SOURCE_DIR "/../shared/data/gsm8k/test.jsonl";
  std::ifstream in(path);
  if (!in.good()) {
    MESSAGE("skipped: no GSM8K test set at " << path);
    return;
  }
  const std::unique_ptr<Reward> reward =
      Registry::global().create("math_accuracy", {{"extract", {"gsm8k"}}});
  std::string line;
  int line_number = 0;
  int solutions = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    const nlohmann::json item = nlohmann::json::parse(line);
    const std::string solution = item.at("answer").get<std::string>();
    const Gsm8kSolution split = split_gsm8k(solution);
    INFO(path << ":" << line_number << ": #### " << split.final_answer);
    RewardInput input;
    input.prompt = item.at("question").get<std::string>();
    input.reference = split.final_answer;
    input.completion = solution;
    const RewardResult right = reward->score(input);
    CHECK_MESSAGE(right.outcome == Outcome::pass, right.reason);
    CHECK(right.score == 1.0);
    input.completion = split.with_wrong_answer;
    const RewardResult wrong = reward->score(input);
    CHECK_MESSAGE(wrong.outcome == Outcome::fail, wrong.reason);
    CHECK(wrong.score == 0.0);
    ++solutions;
  }
  MESSAGE("scored " << solutions << " GSM8K solutions");
  CHECK(solutions > 1000);
}
