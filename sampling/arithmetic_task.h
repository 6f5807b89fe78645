// Synthetic arithmetic word problems with integer answers, and a "pretraining corpus" of worked
// solutions in the R1-Zero format with deliberate flaws (wrong steps, missing tags, chains of
// thought drifting into a second language), so that each later stage has something to fix.
// Knows nothing of tokens, templates or models: it produces text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1::sampling {

struct Problem {
  std::string question;     // "Mia has 7 apples. She buys 5 more. How many apples does Mia have now?"
  std::string answer;       // reference answer as text: "12"
  nlohmann::json metadata;  // {"task": "arithmetic", "kind": "add", "numbers": [7, 5]}
};

struct ArithmeticTaskConfig {
  int max_number = 20;  // operands are drawn from [1, max_number] (factors of "mul" from [2, 9])
  // Problem kinds drawn uniformly: "add", "sub" (never negative), "mul", "add_sub" (two steps).
  std::vector<std::string> kinds = {"add", "sub", "mul", "add_sub"};
  // Worked solutions open by restating the question ("Mia has 7 apples and buys 5 more.") before
  // the equations. Off, a chain of thought is just the equations: far quicker for a tiny model to learn.
  bool restate_question = true;

  template <class V>
  void visit(V& v) {
    v("max_number", max_number);
    v("kinds", kinds);
    v("restate_question", restate_question);
    v.check(max_number >= 2 && max_number <= 1000000, "max_number", "must be in [2, 1000000]");
    v.check(!kinds.empty(), "kinds", "must name at least one kind");
    for (const auto& kind : kinds)
      v.check(kind == "add" || kind == "sub" || kind == "mul" || kind == "add_sub", "kinds",
              "unknown kind '" + kind + "' (known: add, sub, mul, add_sub)");
  }
};

// Shares of corpus samples that carry each flaw (drawn independently).
struct CorpusFlawsConfig {
  double wrong_step = 0.2;      // an arithmetic step (and so the final answer) is off by 1..3
  double missing_tags = 0.1;    // one of the four tags is dropped
  double language_drift = 0.3;  // the chain of thought switches to `drift_language` part-way
  std::string drift_language = "de";  // "de", "fr" or "es"

  template <class V>
  void visit(V& v) {
    v("wrong_step", wrong_step);
    v("missing_tags", missing_tags);
    v("language_drift", language_drift);
    v("drift_language", drift_language);
    v.check(wrong_step >= 0 && wrong_step <= 1, "wrong_step", "must be in [0, 1]");
    v.check(missing_tags >= 0 && missing_tags <= 1, "missing_tags", "must be in [0, 1]");
    v.check(language_drift >= 0 && language_drift <= 1, "language_drift", "must be in [0, 1]");
    v.check(drift_language == "de" || drift_language == "fr" || drift_language == "es",
            "drift_language", "must be one of de, fr, es");
  }
};

// A worked solution: the completion text an assistant would write after the template's prefix,
// "<think>...</think> <answer>12</answer>", and which flaws it carries.
struct WorkedSolution {
  Problem problem;
  std::string completion;
  bool correct = true;      // the final answer written equals problem.answer (tags or not)
  bool well_formed = true;  // all four tags present, in order, once each
  bool drifted = false;     // the chain of thought switched language
};

// Deterministic for a given seed; problems are distinct from each other where the space allows.
std::vector<Problem> generate_problems(const ArithmeticTaskConfig& config, std::size_t count, uint64_t seed);

// A flawless worked solution for `problem` (English chain of thought).
std::string clean_solution(const Problem& problem, bool restate_question = true);

std::vector<WorkedSolution> generate_corpus(const ArithmeticTaskConfig& task, const CorpusFlawsConfig& flaws,
                                            std::size_t count, uint64_t seed);

// The first names and item nouns the synthetic tasks draw from (the chat task reuses them).
const std::vector<std::string>& person_names();
const std::vector<std::string>& item_names();

// Problems from a JSONL file with "question" (or "prompt") and "answer" per line; a GSM8K answer's
// "#### N" tail is taken as the reference. UserError naming the file and line on bad input.
std::vector<Problem> load_problems_jsonl(const std::string& path);

}  // namespace r1::sampling
