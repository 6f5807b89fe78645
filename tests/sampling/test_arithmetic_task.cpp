// Tests for the synthetic arithmetic task: problems, clean solutions, the flawed corpus, and the
// JSONL problem loader (including the GSM8K test split when it is present).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include "common/error.h"
#include "sampling/arithmetic_task.h"
#include "tests/sampling/temp_dir.h"

using namespace r1::sampling;
using r1::sampling::testing::TempDir;

namespace {

struct Equation {
  int64_t lhs;
  char op;
  int64_t rhs;
  int64_t result;
  int64_t expected() const { return op == '+' ? lhs + rhs : op == '-' ? lhs - rhs : lhs * rhs; }
};

std::vector<Equation> equations(const std::string& text) {
  static const std::regex pattern(R"((-?\d+) ([-+*]) (\d+) = (-?\d+)\.)");
  std::vector<Equation> out;
  for (std::sregex_iterator it(text.begin(), text.end(), pattern), end; it != end; ++it)
    out.push_back({std::stoll((*it)[1]), (*it)[2].str()[0], std::stoll((*it)[3]), std::stoll((*it)[4])});
  return out;
}

// The answer is the last number written, whether or not its tags survived.
std::string last_number(const std::string& text) {
  static const std::regex pattern(R"(-?\d+)");
  std::string last;
  for (std::sregex_iterator it(text.begin(), text.end(), pattern), end; it != end; ++it) last = it->str();
  return last;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

bool tags_well_formed(const std::string& text) {
  const char* tags[] = {"<think>", "</think>", "<answer>", "</answer>"};
  std::size_t previous = 0;
  for (const char* tag : tags) {
    if (occurrences(text, tag) != 1) return false;
    const auto at = text.find(tag);
    if (at < previous) return false;
    previous = at;
  }
  return true;
}

const std::map<std::string, std::vector<std::string>> kDriftWords = {
    {"de", {"Also ist", "Dann ist", "Das ist einfach."}},
    {"fr", {"Donc", "Puis", "C'est facile."}},
    {"es", {"Entonces", "Luego", "Es f\xc3\xa1" "cil."}},
};

bool has_drift_phrase(const std::string& text, const std::string& language) {
  return text.find(kDriftWords.at(language)[2]) != std::string::npos;
}

bool has_any_drift_word(const std::string& text) {
  for (const auto& [language, words] : kDriftWords)
    for (const auto& word : words)
      if (text.find(word) != std::string::npos) return true;
  return false;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const r1::UserError& error) {
    return error.what();
  }
  return "(no UserError)";
}

}  // namespace

TEST_CASE("generate_problems is deterministic for a seed and varies across seeds") {
  const ArithmeticTaskConfig config;
  const auto first = generate_problems(config, 200, 7);
  const auto again = generate_problems(config, 200, 7);
  const auto other = generate_problems(config, 200, 8);
  REQUIRE(first.size() == 200);
  std::size_t same_as_other = 0;
  for (std::size_t i = 0; i < first.size(); ++i) {
    CHECK(first[i].question == again[i].question);
    CHECK(first[i].answer == again[i].answer);
    CHECK(first[i].metadata == again[i].metadata);
    same_as_other += first[i].question == other[i].question;
  }
  CHECK(same_as_other < 5);
}

TEST_CASE("generated problems are distinct, short, and their answers follow from their numbers") {
  const ArithmeticTaskConfig config;
  const auto problems = generate_problems(config, 2000, 11);
  std::set<std::string> questions, kinds;
  for (const auto& problem : problems) {
    questions.insert(problem.question);
    CHECK(problem.question.size() < 120);
    REQUIRE(problem.metadata["task"] == "arithmetic");
    const std::string kind = problem.metadata["kind"];
    kinds.insert(kind);
    const auto n = problem.metadata["numbers"].get<std::vector<int64_t>>();
    for (int64_t number : n) CHECK(number >= 1);
    if (kind == "add") {
      REQUIRE(n.size() == 2);
      CHECK(problem.answer == std::to_string(n[0] + n[1]));
      CHECK(problem.question.find(" buys " + std::to_string(n[1]) + " more. How many ") != std::string::npos);
    } else if (kind == "sub") {
      REQUIRE(n.size() == 2);
      CHECK(n[1] <= n[0]);
      CHECK(problem.answer == std::to_string(n[0] - n[1]));
      CHECK(problem.question.find("have left?") != std::string::npos);
    } else if (kind == "mul") {
      REQUIRE(n.size() == 2);
      CHECK((n[0] >= 2 && n[0] <= 9 && n[1] >= 2 && n[1] <= 9));
      CHECK(problem.answer == std::to_string(n[0] * n[1]));
    } else {
      REQUIRE(kind == "add_sub");
      REQUIRE(n.size() == 3);
      CHECK(n[0] + n[1] - n[2] >= 0);
      CHECK(problem.answer == std::to_string(n[0] + n[1] - n[2]));
    }
    if (kind != "mul")
      for (int64_t number : n) CHECK(number <= config.max_number);
  }
  CHECK(questions.size() == problems.size());
  CHECK(kinds == std::set<std::string>{"add", "sub", "mul", "add_sub"});

  ArithmeticTaskConfig only_mul;
  only_mul.kinds = {"mul"};
  for (const auto& problem : generate_problems(only_mul, 50, 3)) CHECK(problem.metadata["kind"] == "mul");
}

TEST_CASE("clean_solution writes the short regular format") {
  const Problem add{"Mia has 7 apples. She buys 5 more. How many apples does Mia have now?", "12",
                    {{"task", "arithmetic"}, {"kind", "add"}, {"numbers", {7, 5}}}};
  CHECK(clean_solution(add) == "<think>Mia has 7 apples and buys 5 more. 7 + 5 = 12.</think> <answer>12</answer>");
  CHECK(clean_solution(add, /*restate_question=*/false) == "<think>7 + 5 = 12.</think> <answer>12</answer>");
  const Problem sub{"Tom has 9 marbles. He gives 4 to Ava. How many marbles does Tom have left?", "5",
                    {{"task", "arithmetic"}, {"kind", "sub"}, {"numbers", {9, 4}}}};
  CHECK(clean_solution(sub) == "<think>Tom has 9 marbles and gives away 4. 9 - 4 = 5.</think> <answer>5</answer>");
  const Problem mul{"Leo buys 3 bags with 4 stickers in each. How many stickers does Leo have?", "12",
                    {{"task", "arithmetic"}, {"kind", "mul"}, {"numbers", {3, 4}}}};
  CHECK(clean_solution(mul) == "<think>3 bags with 4 stickers each. 3 * 4 = 12.</think> <answer>12</answer>");
  const Problem add_sub{"Zoe has 6 coins, buys 8 more and then gives 3 away. How many coins does Zoe have now?", "11",
                        {{"task", "arithmetic"}, {"kind", "add_sub"}, {"numbers", {6, 8, 3}}}};
  CHECK(clean_solution(add_sub) == "<think>6 + 8 = 14. 14 - 3 = 11.</think> <answer>11</answer>");

  const Problem foreign{"What is 2 + 2?", "4", {{"task", "math"}}};
  CHECK(error_of([&] { clean_solution(foreign); }).find("not an arithmetic task problem") != std::string::npos);
}

TEST_CASE("clean solutions of generated problems are correct, well formed and English") {
  for (const auto& problem : generate_problems({}, 1000, 5)) {
    const std::string solution = clean_solution(problem);
    CAPTURE(solution);
    CHECK(tags_well_formed(solution));
    CHECK_FALSE(has_any_drift_word(solution));
    const auto steps = equations(solution);
    REQUIRE(steps.size() == (problem.metadata["kind"] == "add_sub" ? 2u : 1u));
    for (const auto& step : steps) CHECK(step.result == step.expected());
    if (steps.size() == 2) CHECK(steps[1].lhs == steps[0].result);
    CHECK(std::to_string(steps.back().result) == problem.answer);
    CHECK(last_number(solution) == problem.answer);
    CHECK(solution.find("<answer>" + problem.answer + "</answer>") != std::string::npos);
  }
}

TEST_CASE("generate_corpus is deterministic and uses the problems of generate_problems") {
  const ArithmeticTaskConfig task;
  const CorpusFlawsConfig flaws;
  const auto first = generate_corpus(task, flaws, 300, 21);
  const auto again = generate_corpus(task, flaws, 300, 21);
  const auto problems = generate_problems(task, 300, 21);
  REQUIRE(first.size() == 300);
  for (std::size_t i = 0; i < first.size(); ++i) {
    CHECK(first[i].completion == again[i].completion);
    CHECK(first[i].correct == again[i].correct);
    CHECK(first[i].well_formed == again[i].well_formed);
    CHECK(first[i].drifted == again[i].drifted);
    CHECK(first[i].problem.question == problems[i].question);
  }
}

TEST_CASE("corpus flaw shares match the config and the flags match the text") {
  for (const std::string language : {"de", "fr", "es"}) {
    CAPTURE(language);
    CorpusFlawsConfig flaws;
    flaws.wrong_step = 0.2;
    flaws.missing_tags = 0.1;
    flaws.language_drift = 0.3;
    flaws.drift_language = language;
    const auto corpus = generate_corpus({}, flaws, 4000, 99);
    double wrong = 0, missing = 0, drifted = 0;
    for (const auto& sample : corpus) {
      const std::string& text = sample.completion;
      CAPTURE(text);
      wrong += !sample.correct;
      missing += !sample.well_formed;
      drifted += sample.drifted;

      CHECK(sample.well_formed == tags_well_formed(text));
      if (!sample.well_formed) {  // exactly one of the four tags is gone
        const std::size_t tags = occurrences(text, "<think>") + occurrences(text, "</think>") +
                                 occurrences(text, "<answer>") + occurrences(text, "</answer>");
        CHECK(tags == 3);
      }

      CHECK(sample.correct == (last_number(text) == sample.problem.answer));
      const auto steps = equations(text);
      REQUIRE(steps.size() == (sample.problem.metadata["kind"] == "add_sub" ? 2u : 1u));
      int wrong_steps = 0;
      for (const auto& step : steps) {
        const int64_t error = step.result - step.expected();
        CHECK(std::abs(error) <= 3);
        wrong_steps += error != 0;
      }
      CHECK(wrong_steps == (sample.correct ? 0 : 1));
      if (steps.size() == 2) CHECK(steps[1].lhs == steps[0].result);  // the chain follows a wrong step
      CHECK(last_number(text) == std::to_string(steps.back().result));

      CHECK(sample.drifted == has_drift_phrase(text, language));
      if (sample.drifted) {
        // The first sentence stays English: no drift word before the first equation's lead-in.
        const auto think = text.find("<think>") == std::string::npos ? 0 : text.find("<think>") + 7;
        const std::string first_sentence = text.substr(think, text.find(". ", think) - think);
        CHECK_FALSE(has_any_drift_word(first_sentence));
        const auto& words = kDriftWords.at(language);
        CHECK((text.find(words[0]) != std::string::npos || text.find(words[1]) != std::string::npos));
      } else {
        CHECK_FALSE(has_any_drift_word(text));
      }
    }
    const double n = static_cast<double>(corpus.size());
    CHECK(std::abs(wrong / n - flaws.wrong_step) <= 0.05);
    CHECK(std::abs(missing / n - flaws.missing_tags) <= 0.05);
    CHECK(std::abs(drifted / n - flaws.language_drift) <= 0.05);
  }
}

TEST_CASE("corpus flaw shares at the extremes") {
  CorpusFlawsConfig flaws;
  flaws.wrong_step = 0.0;
  flaws.missing_tags = 1.0;
  flaws.language_drift = 0.0;
  for (const auto& sample : generate_corpus({}, flaws, 500, 4)) {
    CHECK(sample.correct);
    CHECK_FALSE(sample.well_formed);
    CHECK_FALSE(sample.drifted);
  }
  flaws = CorpusFlawsConfig{};
  flaws.wrong_step = 1.0;
  flaws.missing_tags = 0.0;
  flaws.language_drift = 1.0;
  for (const auto& sample : generate_corpus({}, flaws, 500, 4)) {
    CHECK_FALSE(sample.correct);
    CHECK(sample.well_formed);
    CHECK(sample.drifted);
  }
}

TEST_CASE("load_problems_jsonl reads questions, prompts, numbers and GSM8K answers") {
  TempDir dir;
  const std::string path = dir.write("problems.jsonl",
                                     "{\"question\": \"What is 2 + 3?\", \"answer\": \"5\"}\n"
                                     "\n"
                                     "   \r\n"
                                     "{\"prompt\": \"Double 21.\", \"answer\": 42}\n"
                                     "{\"question\": \"Q3\", \"answer\": \"She pays 1,000 + 234.\\n#### 1,234\"}\r\n"
                                     "{\"question\": \"Q4\", \"answer\": 12.0, \"metadata\": {\"task\": \"x\"}}\n"
                                     "{\"question\": \"Q5\", \"answer\": 2.5}\n"
                                     "{\"question\": \"Q6\", \"answer\": \"  Paris, France \"}");
  const auto problems = load_problems_jsonl(path);
  REQUIRE(problems.size() == 6);
  CHECK(problems[0].question == "What is 2 + 3?");
  CHECK(problems[0].answer == "5");
  CHECK(problems[0].metadata["line"] == 1);
  CHECK(problems[1].question == "Double 21.");
  CHECK(problems[1].answer == "42");
  CHECK(problems[1].metadata["line"] == 4);
  CHECK(problems[2].answer == "1234");
  CHECK(problems[3].answer == "12");
  CHECK(problems[3].metadata["task"] == "x");
  CHECK(problems[4].answer == "2.5");
  CHECK(problems[5].answer == "Paris, France");  // only a GSM8K tail loses its commas
}

TEST_CASE("load_problems_jsonl names the file and line of bad input") {
  TempDir dir;
  const std::string good = "{\"question\": \"q\", \"answer\": \"1\"}\n";
  const std::map<std::string, std::string> cases = {
      {"{\"question\": \"q\", \"answer\": ", "not valid JSON"},
      {"[1, 2]", "expected a JSON object"},
      {"{\"answer\": \"1\"}", "missing \"question\""},
      {"{\"question\": 5, \"answer\": \"1\"}", "must be a non-empty string"},
      {"{\"question\": \"q\"}", "missing \"answer\""},
      {"{\"question\": \"q\", \"answer\": [1]}", "must be a string or a number"},
      {"{\"question\": \"q\", \"answer\": \"#### \"}", "empty answer"},
  };
  for (const auto& entry : cases) {
    const std::string& line = entry.first;  // not a structured binding: CAPTURE's lambda takes it
    const std::string& message = entry.second;
    CAPTURE(line);
    const std::string path = dir.write("bad.jsonl", good + "\n" + line + "\n" + good);
    const std::string error = error_of([&] { load_problems_jsonl(path); });
    CHECK(error.find(path + ":3: ") == 0);
    CHECK(error.find(message) != std::string::npos);
  }
  const std::string missing = dir.file("absent.jsonl");
  CHECK(error_of([&] { load_problems_jsonl(missing); }).find(missing + ": cannot open") == 0);
}

TEST_CASE("load_problems_jsonl reads the GSM8K test split") {
  const std::string path = std::string(R1_SOURCE_DIR) + "/../shared/data/gsm8k/test.jsonl";
  if (!std::filesystem::exists(path)) {
    MESSAGE("skipped: the GSM8K test split is not at " << path << " (shared data not present here)");
    return;
  }
  std::size_t lines = 0;
  {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) lines += line.find_first_not_of(" \t\r") != std::string::npos;
  }
  const auto problems = load_problems_jsonl(path);
  CHECK(problems.size() == lines);
  REQUIRE_FALSE(problems.empty());
  CHECK(problems[0].answer == "18");
  static const std::regex number(R"(-?\d+(\.\d+)?)");
  for (const auto& problem : problems) {
    CAPTURE(problem.answer);
    CHECK(std::regex_match(problem.answer, number));
    CHECK_FALSE(problem.question.empty());
  }
}
