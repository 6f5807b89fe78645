// Tests for the cold-start / rejection-sampling verdict: each rule rejects with its own reason, in
// order; duplicates are per prompt; the readable rewrite keeps the format verifier satisfied.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "rewards/registry.h"
#include "stages/verdict.h"

using r1::stages::VerdictConfig;
using r1::stages::VerdictJudge;

namespace {

const std::map<std::string, double> kGood = {{"accuracy", 1.0}, {"format", 1.0}, {"language_consistency", 1.0}};

std::map<std::string, double> with(const std::string& name, double value) {
  auto components = kGood;
  components[name] = value;
  return components;
}

}  // namespace

TEST_CASE("each rule rejects with its reason, the first failing rule wins") {
  VerdictJudge judge{VerdictConfig{}};
  const std::string text = "<think>7 + 5 = 12.</think> <answer>12</answer>";
  CHECK(judge.judge(0, text, with("accuracy", 0.0)) == "incorrect");
  CHECK(judge.judge(0, text, with("format", 0.0)) == "bad_format");
  CHECK(judge.judge(0, text, with("language_consistency", 0.5)) == "mixed_language");
  auto both = with("accuracy", 0.0);
  both["language_consistency"] = 0.0;
  CHECK(judge.judge(0, text, both) == "incorrect");
  CHECK(judge.judge(0, text, {{"accuracy", 1.0}, {"format", 1.0}}) == "mixed_language");  // no share measured
  const std::string wall = "<think>" + std::string(700, 'a') + "</think> <answer>1</answer>";
  CHECK(judge.judge(1, wall, kGood) == "long_paragraphs");
  const std::string split = "<think>" + std::string(500, 'a') + "\n\n" + std::string(500, 'b') + "</think> <answer>1</answer>";
  CHECK(!judge.judge(2, split, kGood).has_value());
  CHECK(judge.judge(3, "<think>```x = 1```</think> <answer>1</answer>", kGood) == "code_blocks");
  CHECK(!judge.judge(4, text, kGood).has_value());
  CHECK(judge.judge(4, text, kGood) == "duplicate");
  CHECK(!judge.judge(5, text, kGood).has_value());  // the same text for another prompt is no duplicate
}

TEST_CASE("rules can be switched off") {
  VerdictConfig loose;
  loose.require_correct = false;
  loose.min_language_share = 0.0;
  loose.max_paragraph_chars = 0;
  loose.reject_duplicates = false;
  VerdictJudge judge{loose};
  const std::string wall = "<think>" + std::string(5000, 'a') + "</think> <answer>1</answer>";
  auto components = with("accuracy", 0.0);
  components.erase("language_consistency");
  CHECK(!judge.judge(0, wall, components).has_value());
  CHECK(!judge.judge(0, wall, components).has_value());
  CHECK(judge.judge(0, wall, with("format", 0.0)) == "bad_format");
}

TEST_CASE("longest_paragraph measures the chain of thought only") {
  CHECK(r1::stages::longest_paragraph("<think>abc\n\nde</think> <answer>" + std::string(100, '9') + "</answer>") == 3);
  CHECK(r1::stages::longest_paragraph("no tags at all") == 14);
}

TEST_CASE("the readable rewrite closes the thinking with a summary and still passes the format verifier") {
  const std::string text = "<think>Mia has 7 apples and buys 5 more. 7 + 5 = 12.</think> <answer>12</answer>";
  const std::string readable = r1::stages::rewrite_readable(text);
  CHECK(readable == "<think>Mia has 7 apples and buys 5 more. 7 + 5 = 12.\n\nIn short: 7 + 5 = 12.</think> <answer>12</answer>");
  auto format = r1::rewards::Registry::global().create("format", nullptr);
  CHECK(format->score({"q", readable, "12", {}}).score == 1.0);
  CHECK(r1::stages::rewrite_readable("<answer>3</answer>") == "<answer>3</answer>");  // nothing to summarise
}
