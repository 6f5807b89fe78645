// Tests for rewards/math_equivalence: the golden table in tests/fixtures/rewards, plus the bounds
// that keep hostile answers cheap.
#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "rewards/math_equivalence.h"

using r1::rewards::math::equivalent;

TEST_CASE("math equivalence: every case of the golden table") {
  const std::string path = R1_SOURCE_DIR "/tests/fixtures/rewards/math_equivalence.jsonl";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::string line;
  int line_number = 0;
  int cases = 0;
  int equal_cases = 0;
  std::set<std::string> notes;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    const nlohmann::json item = nlohmann::json::parse(line);
    const std::string answer = item.at("answer").get<std::string>();
    const std::string reference = item.at("reference").get<std::string>();
    const bool expected = item.at("equal").get<bool>();
    const std::string note = item.at("note").get<std::string>();
    INFO(path << ":" << line_number << " (" << note << "): answer " << answer << " | reference "
              << reference << " | expected " << (expected ? "equal" : "different"));
    CHECK(equivalent(answer, reference) == expected);
    // Equivalence is symmetric: the table's verdict holds with the roles swapped.
    CHECK(equivalent(reference, answer) == expected);
    CHECK(notes.insert(note).second);  // each case says what it is about, and only once
    ++cases;
    equal_cases += expected;
  }
  CHECK(cases >= 150);
  CHECK(equal_cases >= 50);
  CHECK(cases - equal_cases >= 50);
}

TEST_CASE("math equivalence: answers are equal to themselves, however they are written") {
  for (const char* answer :
       {"42", "\\frac{1}{2}", "2\\sqrt{3}", "(1, 2]", "\\{1, 2\\}", "x^2+1", "\\text{Monday}",
        "5 \\text{ or } 6", "\\begin{pmatrix}1&2\\end{pmatrix}", "??", "\\pm 3", "1e3"}) {
    INFO(answer);
    CHECK(equivalent(answer, answer));
  }
  CHECK_FALSE(equivalent("", ""));  // nothing is no answer, even against nothing
}

TEST_CASE("math equivalence: huge numbers, exponents and nesting stay cheap and exact where possible") {
  // Exact beyond doubles: 2^200 and 2^200 + 1 differ by one part in 10^60.
  CHECK(equivalent("2^{200}", "1606938044258990275541962092341162602522202993782792835301376"));
  CHECK_FALSE(equivalent("2^{200}+1", "2^{200}"));
  // Results too large to compute are compared by spelling, not by an overflowed infinity.
  CHECK(equivalent("9^{9^{9}}", "9^{9^{9}}"));
  CHECK_FALSE(equivalent("9^{9^{9}}", "9^{9^{9}}+1"));
  CHECK_FALSE(equivalent("2^{100000}", "3^{100000}"));
  CHECK_FALSE(equivalent("10^{-100000}", "0"));
  CHECK_FALSE(equivalent("1000!", "1001!"));
  CHECK_FALSE(equivalent("\\binom{100000}{50000}", "0"));
  // Deep nesting is refused by the parser (falls back to spelling), never a stack overflow.
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "(";
  deep += "1";
  for (int i = 0; i < 5000; ++i) deep += ")";
  CHECK_FALSE(equivalent(deep, "1"));
  std::string fractions;
  for (int i = 0; i < 3000; ++i) fractions += "\\frac{1}{";
  fractions += "2";
  for (int i = 0; i < 3000; ++i) fractions += "}";
  CHECK_FALSE(equivalent(fractions, "2"));
  // Long flat expressions are cut off by the node limit.
  std::string sum = "1";
  for (int i = 0; i < 5000; ++i) sum += "+1";
  CHECK_FALSE(equivalent(sum, "5001"));
  std::string short_sum = "1";
  for (int i = 0; i < 99; ++i) short_sum += "+1";
  CHECK(equivalent(short_sum, "100"));
  // Mixed numbers nested in fractions: token patterns only, no exponential re-parsing.
  std::string mixed;
  for (int i = 0; i < 40; ++i) mixed += "1\\frac{1\\frac{";
  mixed += "1";
  CHECK_FALSE(equivalent(mixed, "1"));
}

TEST_CASE("math equivalence: division by zero and domain errors are not equal to anything defined") {
  CHECK_FALSE(equivalent("1/0", "0"));
  CHECK_FALSE(equivalent("\\frac{1}{0}", "\\infty"));
  CHECK_FALSE(equivalent("\\sqrt{-1}", "0"));
  CHECK_FALSE(equivalent("\\ln(0)", "0"));
  CHECK_FALSE(equivalent("0^{-1}", "0"));
  // Undefined on both sides is not "equal" either: compared by spelling.
  CHECK_FALSE(equivalent("1/0", "2/0"));
}
