// Tests for the language_consistency reward: shares on mixed texts (properties over many mixes),
// scripts, what is not a word, the think region, options and metadata.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "rewards/registry.h"

using namespace r1::rewards;

namespace {

RewardResult language_score(const std::string& completion, const nlohmann::json& options = {},
                            const nlohmann::json& metadata = nlohmann::json::object()) {
  RewardInput input;
  input.completion = completion;
  input.metadata = metadata;
  return Registry::global().create("language_consistency", options)->score(input);
}

double share(const std::string& think, const std::string& language = "en") {
  return language_score("<think>" + think + "</think><answer>1</answer>", {{"language", language}})
      .score;
}

// Words checked against the Debian lists: each is in its own language's list and in no other
// (so the expected share is exact). Spanish verb forms are left out: wspanish lacks most of them.
const std::vector<std::string> kEnglish = {"the", "house", "because", "number", "answer",
                                           "multiply", "then", "result", "equals"};
const std::vector<std::string> kGerman = {"und", "nicht", "ist", "wir", "zuerst", "dann",
                                          "Ergebnis", "gleich", "rechnen", "weil", "Zahl",
                                          "multiplizieren"};
const std::vector<std::string> kFrench = {"avons", "donc", "calculer", "résultat", "réponse",
                                          "ensuite"};
const std::vector<std::string> kSpanish = {"entonces", "resultado", "número", "respuesta",
                                           "primero"};
const std::vector<std::string> kRussian = {"поэтому", "ответ", "равно", "сначала", "умножаем"};

// k words of `first` and m of `second`, interleaved in a seeded pseudo-random order, with
// punctuation between some of them.
std::string mix(const std::vector<std::string>& first, int k, const std::vector<std::string>& second,
                int m, unsigned seed) {
  std::string text;
  int left_first = k;
  int left_second = m;
  unsigned state = seed * 2654435761u + 1;
  while (left_first + left_second > 0) {
    state = state * 1664525u + 1013904223u;
    const bool take_first =
        left_second == 0 || (left_first > 0 && (state >> 16) % (left_first + left_second) <
                                                   static_cast<unsigned>(left_first));
    const std::vector<std::string>& pool = take_first ? first : second;
    int& left = take_first ? left_first : left_second;
    text += pool[(state >> 8) % pool.size()];
    text += (state % 5 == 0) ? ", " : (state % 7 == 0 ? ". " : " ");
    --left;
  }
  return text;
}

}  // namespace

TEST_CASE("language_consistency: k target words and m foreign words give k / (k + m)") {
  struct Pair {
    const char* target;
    const std::vector<std::string>* target_words;
    const std::vector<std::string>* foreign_words;
  };
  const Pair pairs[] = {
      {"en", &kEnglish, &kGerman}, {"de", &kGerman, &kEnglish}, {"fr", &kFrench, &kGerman},
      {"es", &kSpanish, &kEnglish}, {"en", &kEnglish, &kRussian}, {"ru", &kRussian, &kFrench},
      {"de", &kGerman, &kSpanish},
  };
  int checked = 0;
  for (const Pair& pair : pairs) {
    for (int k : {0, 1, 3, 10, 25}) {
      for (int m : {0, 1, 2, 7, 30}) {
        if (k + m == 0) continue;
        const std::string text = mix(*pair.target_words, k, *pair.foreign_words, m, k * 31 + m);
        INFO(pair.target);
        CAPTURE(text);
        CHECK(share(text, pair.target) == doctest::Approx(static_cast<double>(k) / (k + m)));
        ++checked;
      }
    }
  }
  CHECK(checked == 7 * 24);
}

TEST_CASE("language_consistency: Chinese counts each Han character as a word") {
  // 我们先计算 is five characters; "the sum" two English words.
  CHECK(share("我们先计算 the sum", "zh") == doctest::Approx(5.0 / 7.0));
  CHECK(share("我们先计算 the sum", "en") == doctest::Approx(2.0 / 7.0));
  CHECK(share("我们先计算，结果是12。", "zh") == 1.0);   // CJK punctuation and digits are no words
  CHECK(share("所以答案是 $x = 3$", "zh") == 1.0);       // a lone Latin letter is a variable
  // Japanese kana and Korean hangul are foreign to every supported language.
  CHECK(share("ひらがな", "zh") == 0.0);
  CHECK(share("한국어 the", "en") == doctest::Approx(0.5));
}

TEST_CASE("language_consistency: Russian by script") {
  CHECK(share("поэтому ответ равно", "ru") == 1.0);
  CHECK(share("поэтому ответ равно", "en") == 0.0);
  CHECK(share("Поэтому the answer", "ru") == doctest::Approx(1.0 / 3.0));
  CHECK(share("ОТВЕТ", "ru") == 1.0);
}

TEST_CASE("language_consistency: numbers, punctuation, math and LaTeX are not words") {
  const std::string math =
      "12 + 30 = 42; $\\frac{84}{2} = 42$, \\(x^2 + y_1\\) and \\sqrt{16} * 3.5 -> 7 ≤ 9 ∑ π α";
  // Only "and" is a word here.
  CHECK(share(math, "en") == 1.0);
  CHECK(share(math, "de") == 0.0);
  // Latex text commands: the command is skipped, its argument's words count.
  CHECK(share("\\text{Zahl} the", "en") == doctest::Approx(0.5));
  // One-letter words of the target language count; other single letters are variables, even
  // when another language has them as words ("y" is Spanish for "and").
  CHECK(share("a x y z b c", "en") == 1.0);
  CHECK(share("I think", "en") == 1.0);
  CHECK(share("a y und", "de") == 1.0);
  CHECK(share("a y o the", "es") == doctest::Approx(3.0 / 4.0));
  CHECK(language_score("<think>a y</think>", {{"language", "de"}}).reason ==
        "no words in the chain of thought");
}

TEST_CASE("language_consistency: unknown words count by alphabet") {
  // Names and rare words in no list count for a Latin target when their letters fit it.
  CHECK(share("Qwertzuiop Xylophonicus", "en") == 1.0);
  CHECK(share("Qwertzuiop", "de") == 1.0);
  // Letters outside the target's alphabet mark a word foreign: no English word has "ö" or "ñ".
  CHECK(share("Zwölfundachtzigstel", "en") == 0.0);
  CHECK(share("Zwölfundachtzigstel", "de") == 1.0);
  CHECK(share("añoranzasx", "de") == 0.0);
  CHECK(share("añoranzasx", "es") == 1.0);
  // French elision: the longest piece decides.
  CHECK(share("l'ordinateur qu'ensuite", "fr") == 1.0);
  CHECK(share("don't", "en") == 1.0);
}

TEST_CASE("language_consistency: the chain of thought only; defined behaviour without words") {
  // The answer after </think> is not part of the chain of thought.
  RewardResult judged = language_score("<think>the answer</think><answer>und nicht</answer>");
  CHECK(judged.score == 1.0);
  CHECK(judged.components.at("language_consistency") == 1.0);
  CHECK(judged.outcome == Outcome::pass);
  CHECK(judged.reason.empty());
  // With no think tags the whole completion is judged.
  RewardResult whole = language_score("the answer und nicht");
  CHECK(whole.score == doctest::Approx(0.5));
  CHECK(whole.reason == "2 of 4 words in en");
  // A template that opened <think> in the prompt: everything before </think>.
  CHECK(language_score("the answer</think>und nicht").score == 1.0);
  // Empty thinking, or only math: empty_score (default 1), with a reason.
  for (const char* completion : {"<think></think><answer>5</answer>", "<think>1+1=2</think>", ""}) {
    INFO(completion);
    RewardResult empty = language_score(completion);
    CHECK(empty.score == 1.0);
    CHECK(empty.outcome == Outcome::pass);
    CHECK(empty.reason == "no words in the chain of thought");
    CHECK(language_score(completion, {{"empty_score", 0.0}}).score == 0.0);
  }
}

TEST_CASE("language_consistency: the language comes from options or per input from metadata") {
  const std::string completion = "<think>und nicht ist</think>";
  CHECK(language_score(completion).score == 0.0);  // default en
  CHECK(language_score(completion, {{"language", "de"}}).score == 1.0);
  CHECK(language_score(completion, {{"language", "German"}}).score == 1.0);
  CHECK(language_score(completion, {{"language", "de-DE"}}).score == 1.0);
  CHECK(language_score(completion, {}, {{"language", "de"}}).score == 1.0);
  CHECK(language_score(completion, {{"language", "fr"}}, {{"language", "de"}}).score == 1.0);
  RewardResult unknown = language_score(completion, {}, {{"language", "tlh"}});
  CHECK(unknown.outcome == Outcome::error);
  CHECK(unknown.score == 0.0);
  CHECK(unknown.reason == "metadata language \"tlh\" is not one of en, de, fr, es, zh, ru");
}

TEST_CASE("language_consistency: options are checked; a missing word list is named with its package") {
  CHECK_THROWS_AS(language_score("", {{"language", "klingon"}}), r1::UserError);
  CHECK_THROWS_AS(language_score("", {{"language", 5}}), r1::UserError);
  CHECK_THROWS_AS(language_score("", {{"lang", "en"}}), r1::UserError);
  CHECK_THROWS_AS(language_score("", {{"empty_score", 2}}), r1::UserError);
  CHECK_THROWS_WITH_AS(
      language_score("", {{"word_lists_dir", "/nonexistent/dict"}}),
      "language_consistency needs the word list /nonexistent/dict/american-english; install the "
      "Debian package wamerican (scripts/setup installs it)",
      r1::UserError);
}

TEST_CASE("language_consistency: malformed UTF-8 and huge inputs are handled") {
  CHECK(share("the \xFF\xFE answer \xC3", "en") == 1.0);
  std::string long_text;
  for (int i = 0; i < 200000; ++i) long_text += "the ";
  CHECK(share(long_text, "en") == 1.0);
}
