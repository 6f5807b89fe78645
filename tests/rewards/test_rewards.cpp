// Tests for rewards/: the accuracy and format verifiers, the registry, composition, score_batch.
#include <doctest/doctest.h>

#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "rewards/registry.h"

using namespace r1::rewards;

namespace {

RewardResult judge(const std::string& reward, const std::string& completion,
                   const std::string& reference = "42", const nlohmann::json& options = {}) {
  RewardInput input;
  input.prompt = "What is six times seven?";
  input.completion = completion;
  input.reference = reference;
  return Registry::global().create(reward, options)->score(input);
}

bool reason_has(const RewardResult& result, const std::string& part) {
  return result.reason.find(part) != std::string::npos;
}

std::string well_formed(const std::string& answer) {
  return "<think>6*7 is 42</think>\n<answer>" + answer + "</answer>";
}

}  // namespace

TEST_CASE("accuracy: a correct answer passes, a wrong one fails with both numbers") {
  RewardResult right = judge("accuracy", well_formed("42"));
  CHECK(right.outcome == Outcome::pass);
  CHECK(right.score == 1.0);
  CHECK(right.components == std::map<std::string, double>{{"accuracy", 1.0}});

  RewardResult wrong = judge("accuracy", well_formed("41"));
  CHECK(wrong.outcome == Outcome::fail);
  CHECK(wrong.score == 0.0);
  CHECK(wrong.components.at("accuracy") == 0.0);
  CHECK(wrong.reason == "answer 41 != 42");
}

TEST_CASE("accuracy: only the answer after the last </think> counts") {
  // A draft answer while thinking is ignored when a later final answer exists.
  CHECK(judge("accuracy", "<think>maybe <answer>42</answer>? no</think><answer>41</answer>").outcome ==
        Outcome::fail);
  CHECK(judge("accuracy", "<think>maybe <answer>41</answer>? no</think><answer>42</answer>").outcome ==
        Outcome::pass);
  // Several <answer>s after </think>: the last one is the answer.
  CHECK(judge("accuracy", "<think>x</think><answer>41</answer><answer>42</answer>").outcome ==
        Outcome::pass);
  // An answer only inside the thinking is no answer at all.
  RewardResult inside = judge("accuracy", "<think><answer>42</answer></think> so it is 42");
  CHECK(inside.outcome == Outcome::fail);
  CHECK(reason_has(inside, "no <answer> tag"));
  // Without </think> the whole completion is searched.
  CHECK(judge("accuracy", "<answer>42</answer>").outcome == Outcome::pass);
}

TEST_CASE("accuracy: one integer, written as people write integers") {
  CHECK(judge("accuracy", well_formed(" 42 ")).outcome == Outcome::pass);
  CHECK(judge("accuracy", well_formed("+42")).outcome == Outcome::pass);
  CHECK(judge("accuracy", well_formed("042")).outcome == Outcome::pass);
  CHECK(judge("accuracy", well_formed("1,234"), "1234").outcome == Outcome::pass);
  CHECK(judge("accuracy", well_formed("1234"), "1,234").outcome == Outcome::pass);
  CHECK(judge("accuracy", well_formed("1,234,567"), "1234567").outcome == Outcome::pass);
  CHECK(judge("accuracy", well_formed("-17"), "-17").outcome == Outcome::pass);
  CHECK(judge("accuracy", well_formed("-17"), "17").outcome == Outcome::fail);
  CHECK(judge("accuracy", well_formed("17"), "-17").outcome == Outcome::fail);
  CHECK(judge("accuracy", well_formed("-0"), "0").outcome == Outcome::pass);
  CHECK(judge("accuracy", well_formed("12.0"), "12").outcome == Outcome::pass);
  CHECK(judge("accuracy", well_formed("12.00"), "12").outcome == Outcome::pass);
  CHECK(judge("accuracy", well_formed("-1,234.0"), "-1234").outcome == Outcome::pass);
  CHECK(judge("accuracy", well_formed("12"), "12.0").outcome == Outcome::pass);

  for (const char* not_one_integer :
       {"12 or 13", "12, 13", "12,13", "1,23", "1234,567", ",123", "12,", "12.", "12.5", "1e3",
        "0x10", "- 12", "--12", "twelve", "$12$", "\\boxed{12}", "12 13", "1 234", "+", "."}) {
    CAPTURE(not_one_integer);
    RewardResult result = judge("accuracy", well_formed(not_one_integer), "12");
    CHECK(result.outcome == Outcome::fail);
    CHECK(result.score == 0.0);
    CHECK(reason_has(result, "not a single integer"));
  }
}

TEST_CASE("accuracy: missing or broken tags are a failed answer, not an error") {
  for (const char* completion :
       {"the answer is 42", "<think>42</think>", "<think>x</think> 42 </answer>", ""}) {
    CAPTURE(completion);
    RewardResult result = judge("accuracy", completion);
    CHECK(result.outcome == Outcome::fail);
    CHECK(result.score == 0.0);
    CHECK(reason_has(result, "no <answer> tag"));
  }
  RewardResult unclosed = judge("accuracy", "<think>x</think><answer>42");
  CHECK(unclosed.outcome == Outcome::fail);
  CHECK(reason_has(unclosed, "never closed"));
  RewardResult empty = judge("accuracy", well_formed("  "));
  CHECK(empty.outcome == Outcome::fail);
  CHECK(reason_has(empty, "empty <answer>"));
}

TEST_CASE("accuracy: an unusable reference is an error outcome, score 0") {
  for (const char* reference : {"forty-two", "", "12 or 13", "3.5"}) {
    CAPTURE(reference);
    RewardResult result = judge("accuracy", well_formed("42"), reference);
    CHECK(result.outcome == Outcome::error);
    CHECK(result.score == 0.0);
    CHECK(reason_has(result, "reference"));
    CHECK(reason_has(result, "not a single integer"));
  }
  CHECK(std::string(outcome_name(Outcome::error)) == "error");
  CHECK(std::string(outcome_name(Outcome::pass)) == "pass");
  CHECK(std::string(outcome_name(Outcome::fail)) == "fail");
}

TEST_CASE("accuracy: integers beyond int64 compare exactly as digit strings") {
  const std::string huge = "9" + std::string(299, '7');  // 300 digits
  std::string huge_plus_one = huge;
  huge_plus_one.back() = '8';
  const nlohmann::json roomy = {{"max_answer_chars", 1000}};
  CHECK(judge("accuracy", well_formed(huge), huge, roomy).outcome == Outcome::pass);
  CHECK(judge("accuracy", well_formed("-" + huge), "-" + huge, roomy).outcome == Outcome::pass);
  CHECK(judge("accuracy", well_formed(huge_plus_one), huge, roomy).outcome == Outcome::fail);
  CHECK(judge("accuracy", well_formed("000" + huge), huge, roomy).outcome == Outcome::pass);
  // Just past int64 / uint64: would wrap or saturate with a machine integer.
  CHECK(judge("accuracy", well_formed("9223372036854775808"), "9223372036854775808").outcome ==
        Outcome::pass);
  CHECK(judge("accuracy", well_formed("18446744073709551617"), "1").outcome == Outcome::fail);
  CHECK(judge("accuracy", well_formed("18,446,744,073,709,551,616"), "18446744073709551616")
            .outcome == Outcome::pass);

  // By default an answer over 64 characters fails without being parsed.
  RewardResult too_long = judge("accuracy", well_formed(huge), "1");
  CHECK(too_long.outcome == Outcome::fail);
  CHECK(reason_has(too_long, "more than max_answer_chars=64"));
  // And a reference over the bound cannot ever be matched: that is the reward's error, said so.
  CHECK(judge("accuracy", well_formed("1"), huge).outcome == Outcome::error);
}

TEST_CASE("accuracy: pathological completions are judged quickly") {
  // Megabytes of tags, all linear scans: this returns at once (tests do not time, they'd hang).
  std::string spam;
  for (int i = 0; i < 200000; ++i) spam += "<answer>1</think>";
  CHECK(judge("accuracy", spam).outcome == Outcome::fail);
  std::string giant_answer = "<answer>" + std::string(4'000'000, '1') + "</answer>";
  RewardResult result = judge("accuracy", giant_answer);
  CHECK(result.outcome == Outcome::fail);
  CHECK(reason_has(result, "more than max_answer_chars"));
  CHECK(result.reason.size() < 200);  // a reason never carries the completion
}

TEST_CASE("accuracy: options are checked") {
  CHECK_THROWS_AS(judge("accuracy", "", "1", {{"max_answer_char", 10}}), r1::UserError);
  CHECK_THROWS_AS(judge("accuracy", "", "1", {{"max_answer_chars", 0}}), r1::UserError);
  CHECK_THROWS_AS(judge("accuracy", "", "1", {{"max_answer_chars", "ten"}}), r1::UserError);
  CHECK_THROWS_AS(judge("format", "", "1", {{"strict", true}}), r1::UserError);
  CHECK(judge("accuracy", well_formed("42"), "42", nlohmann::json::object()).outcome ==
        Outcome::pass);
}

TEST_CASE("format: the one accepted shape") {
  for (const char* good : {"<think>reason</think><answer>42</answer>",
                           "  \n<think>\nreason\n</think>\n\n<answer> 42 </answer>\n ",
                           "<think></think><answer>x</answer>"}) {
    CAPTURE(good);
    RewardResult result = judge("format", good);
    CHECK(result.outcome == Outcome::pass);
    CHECK(result.score == 1.0);
    CHECK(result.components == std::map<std::string, double>{{"format", 1.0}});
  }
}

TEST_CASE("format: each way to get it wrong, with a reason naming it") {
  struct Case {
    std::string completion;
    std::string reason;  // the reason starts with this
  };
  const Case cases[] = {
      {"reason</think><answer>42</answer>", "missing <think>"},
      {"<think>reason<answer>42</answer>", "missing </think>"},
      {"<think>reason</think>42</answer>", "missing <answer>"},
      {"<think>reason</think><answer>42", "missing </answer>"},
      {"the answer is 42", "missing <think>; missing </think>; missing <answer>; missing </answer>"},
      {"<think>a</think><think>b</think><answer>42</answer>",
       "tag <think> appears 2 times; tag </think> appears 2 times"},
      {"<think>a<think>b</think><answer>42</answer>", "tag <think> appears 2 times"},
      {"<think>a</think><answer>1</answer><answer>2</answer>",
       "tag <answer> appears 2 times; tag </answer> appears 2 times"},
      {"<answer>42</answer><think>reason</think>", "tags out of order"},
      {"</think>reason<think><answer>42</answer>", "tags out of order"},
      {"<think>reason</think><answer></answer>", "empty answer"},
      {"<think>reason</think><answer> \n </answer>", "empty answer"},
      {"<think>reason</think><answer>42</answer> and more", "text after </answer>"},
      {"Sure! <think>reason</think><answer>42</answer>", "text before <think>"},
      {"<think>reason</think> so <answer>42</answer>", "text between </think> and <answer>"},
      {"<THINK>reason</THINK><answer>42</answer>", "missing <think>; missing </think>"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.completion);
    RewardResult result = judge("format", c.completion);
    CHECK(result.outcome == Outcome::fail);
    CHECK(result.score == 0.0);
    CHECK(result.components.at("format") == 0.0);
    CHECK(result.reason.rfind(c.reason, 0) == 0);
  }
}

TEST_CASE("format: long input is scanned in linear time") {
  std::string body = "<think>" + std::string(8'000'000, '<') + "</think><answer>1</answer>";
  CHECK(judge("format", body).outcome == Outcome::pass);
}

TEST_CASE("registry: built-ins, listing, unknown names, duplicates") {
  Registry& global = Registry::global();
  CHECK(global.contains("accuracy"));
  CHECK(global.contains("format"));
  CHECK_FALSE(global.contains("acc"));
  std::vector<RewardInfo> infos = global.list();
  REQUIRE(infos.size() >= 2);
  for (std::size_t i = 1; i < infos.size(); ++i) CHECK(infos[i - 1].name < infos[i].name);
  for (const RewardInfo& info : infos) {
    CAPTURE(info.name);
    CHECK_FALSE(info.description.empty());
    CHECK(info.description.find('\n') == std::string::npos);
  }
  // Built-ins and plug-in adapters (the test binary also links examples/cpp_reward's length_bonus).
  std::string known;
  for (const RewardInfo& info : infos) known += (known.empty() ? "" : ", ") + info.name;
  CHECK(known.find("accuracy, command, countdown, format, http, language_consistency") == 0);

  try {
    global.create("acc");
    FAIL("create of an unknown reward did not throw");
  } catch (const r1::UserError& e) {
    CHECK(std::string(e.what()) == "unknown reward 'acc'; known: " + known);
  }

  Registry local;
  local.add(RewardInfo{"accuracy", "again", [](const nlohmann::json&) {
                         return Registry::global().create("accuracy");
                       }});
  CHECK_THROWS_AS(local.add(RewardInfo{"accuracy", "twice", [](const nlohmann::json&) {
                                         return Registry::global().create("accuracy");
                                       }}),
                  r1::UserError);
  CHECK_THROWS_AS(local.add(RewardInfo{"", "nameless", {}}), r1::UserError);
  CHECK_THROWS_AS(local.add(RewardInfo{"nofactory", "x", {}}), r1::UserError);
  CHECK_THROWS_WITH_AS(Registry().create("format"), "unknown reward 'format'; known: (none)",
                       r1::UserError);
}

TEST_CASE("registry: the global instance is built once when first used from many threads") {
  std::vector<Registry*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&seen, i] { seen[i] = &Registry::global(); });
  }
  for (std::thread& thread : threads) thread.join();
  for (Registry* registry : seen) CHECK(registry == seen.front());
  CHECK(seen.front()->list().size() == Registry::global().list().size());
}

TEST_CASE("composite: weighted sum, unweighted components, combined outcome and reasons") {
  std::unique_ptr<Composite> composite = compose({{"accuracy", 1.0}, {"format", 0.5}});
  CHECK(composite->name() == "accuracy+format");
  RewardInput input;
  input.reference = "42";

  input.completion = well_formed("42");
  RewardResult both = composite->score(input);
  CHECK(both.score == doctest::Approx(1.5));
  CHECK(both.components == std::map<std::string, double>{{"accuracy", 1.0}, {"format", 1.0}});
  CHECK(both.outcome == Outcome::pass);
  CHECK(both.reason.empty());

  input.completion = "<answer>42</answer>";  // right answer, wrong shape
  RewardResult answer_only = composite->score(input);
  CHECK(answer_only.score == doctest::Approx(1.0));
  CHECK(answer_only.components == std::map<std::string, double>{{"accuracy", 1.0}, {"format", 0.0}});
  CHECK(answer_only.outcome == Outcome::fail);
  CHECK(answer_only.reason == "format: missing <think>; missing </think>");

  input.completion = well_formed("41");  // right shape, wrong answer
  RewardResult shape_only = composite->score(input);
  CHECK(shape_only.score == doctest::Approx(0.5));
  CHECK(shape_only.outcome == Outcome::fail);
  CHECK(shape_only.reason == "accuracy: answer 41 != 42");

  input.reference = "n/a";  // accuracy cannot judge: the whole composition is an error
  RewardResult erred = composite->score(input);
  CHECK(erred.outcome == Outcome::error);
  CHECK(erred.components.at("accuracy") == 0.0);
  CHECK(erred.score == doctest::Approx(0.5));
  CHECK(erred.reason.rfind("accuracy: reference", 0) == 0);
}

TEST_CASE("composite: compose rejects unknown names, listing the known ones, and bad weights") {
  try {
    compose({{"acc", 1.0}, {"format", 0.5}});
    FAIL("compose of an unknown reward did not throw");
  } catch (const r1::UserError& e) {
    CHECK(std::string(e.what()).rfind("unknown reward 'acc'; known: accuracy, command, countdown, format, http", 0) == 0);
  }
  CHECK_THROWS_AS(compose({}), r1::UserError);
  CHECK_THROWS_AS(compose({{"format", std::numeric_limits<double>::quiet_NaN()}}), r1::UserError);
}

namespace {

// Scores each input with its metadata "index"; throws for indices divisible by 7 and returns
// NaN for those divisible by 11 — a badly behaved plug-in reward.
class UnrulyReward : public Reward {
 public:
  std::string name() const override { return "unruly"; }
  RewardResult score(const RewardInput& input) const override {
    const int index = input.metadata.at("index").get<int>();
    if (index % 7 == 0) throw std::runtime_error("boom at " + std::to_string(index));
    RewardResult result;
    result.score = index % 11 == 0 ? std::numeric_limits<double>::quiet_NaN() : index;
    result.components["unruly"] = result.score;
    result.reason = input.reference;
    return result;
  }
};

}  // namespace

TEST_CASE("score_batch: input order, thrown exceptions and NaNs become error outcomes") {
  std::vector<RewardInput> inputs(1000);
  for (int i = 0; i < 1000; ++i) {
    inputs[i].reference = "ref " + std::to_string(i);
    inputs[i].metadata = {{"index", i}};
  }
  UnrulyReward unruly;
  for (int num_threads : {1, 2, 4, 0}) {
    CAPTURE(num_threads);
    std::vector<RewardResult> results = score_batch(unruly, inputs, num_threads);
    REQUIRE(results.size() == inputs.size());
    for (int i = 0; i < 1000; ++i) {
      const RewardResult& result = results[i];
      if (i % 7 == 0) {
        CHECK(result.outcome == Outcome::error);
        CHECK(result.score == 0.0);
        CHECK(result.reason == "boom at " + std::to_string(i));
      } else if (i % 11 == 0) {
        CHECK(result.outcome == Outcome::error);
        CHECK(result.score == 0.0);
      } else {
        CHECK(result.outcome == Outcome::pass);
        CHECK(result.score == i);
        CHECK(result.reason == "ref " + std::to_string(i));
      }
    }
  }
  CHECK(score_batch(unruly, {}, 4).empty());
}

TEST_CASE("score_batch: a composite with a throwing part reports that part, keeps the others") {
  Registry local;
  local.add(RewardInfo{"format", "", [](const nlohmann::json&) {
                         return Registry::global().create("format");
                       }});
  local.add(RewardInfo{"unruly", "", [](const nlohmann::json&) {
                         return std::make_unique<UnrulyReward>();
                       }});
  std::unique_ptr<Composite> composite = compose({{"format", 2.0}, {"unruly", 1.0}}, local);
  std::vector<RewardInput> inputs(3);
  for (int i = 0; i < 3; ++i) {
    inputs[i].completion = well_formed("1");
    inputs[i].metadata = {{"index", i}};  // 0 throws
  }
  std::vector<RewardResult> results = score_batch(*composite, inputs, 2);
  CHECK(results[0].outcome == Outcome::error);
  CHECK(results[0].score == doctest::Approx(2.0));
  CHECK(results[0].reason == "unruly: boom at 0");
  CHECK(results[1].outcome == Outcome::pass);
  CHECK(results[1].score == doctest::Approx(3.0));
  CHECK(results[2].components == std::map<std::string, double>{{"format", 1.0}, {"unruly", 2.0}});
}
