// Synthetic arithmetic word problems, their short worked solutions, a flawed "pretraining corpus"
// of such solutions, and the JSONL problem loader. Produces text only: no tokens, no templates.
#include "sampling/arithmetic_task.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <unordered_set>

#include "common/error.h"
#include "common/jsonl.h"
#include "sampling/portable_random.h"

namespace r1::sampling {
namespace {

struct Person {
  const char* name;
  const char* pronoun;
};

// Short names and nouns keep questions well under 120 bytes for a byte-level model.
constexpr std::array<Person, 20> kPeople{{
    {"Mia", "She"},  {"Tom", "He"},   {"Ava", "She"},  {"Leo", "He"},   {"Emma", "She"},
    {"Noah", "He"},  {"Lily", "She"}, {"Sam", "He"},   {"Zoe", "She"},  {"Max", "He"},
    {"Ella", "She"}, {"Ben", "He"},   {"Lucy", "She"}, {"Jack", "He"},  {"Anna", "She"},
    {"Omar", "He"},  {"Nora", "She"}, {"Ravi", "He"},  {"Ivy", "She"},  {"Luca", "He"},
}};

constexpr std::array<const char*, 15> kItems{
    "apples", "marbles", "stickers", "pencils", "cookies", "books", "shells", "cards",
    "coins",  "stamps",  "balloons", "candies", "crayons", "beads", "toys",
};


// What a question is made of; the question text and the solution are both written from this.
struct Parts {
  std::string kind;
  std::string name;
  std::string pronoun;
  std::string other;  // the receiver in "sub"
  std::string item;
  std::vector<int64_t> numbers;
};

int64_t answer_of(const std::string& kind, const std::vector<int64_t>& n) {
  if (kind == "add") return n[0] + n[1];
  if (kind == "sub") return n[0] - n[1];
  if (kind == "mul") return n[0] * n[1];
  return n[0] + n[1] - n[2];  // add_sub
}

Parts draw_parts(const ArithmeticTaskConfig& config, std::mt19937_64& rng) {
  Parts parts;
  parts.kind = config.kinds[uniform_int(rng, 0, config.kinds.size() - 1)];
  const Person& person = kPeople[uniform_int(rng, 0, kPeople.size() - 1)];
  parts.name = person.name;
  parts.pronoun = person.pronoun;
  Person other = kPeople[uniform_int(rng, 0, kPeople.size() - 2)];
  if (other.name == person.name) other = kPeople.back();  // a uniform pick among the other 19
  parts.other = other.name;
  parts.item = kItems[uniform_int(rng, 0, kItems.size() - 1)];
  const auto max = static_cast<uint64_t>(config.max_number);
  // What someone "has" starts at 2 so that the plural noun always reads right.
  const auto a = static_cast<int64_t>(uniform_int(rng, 2, max));
  if (parts.kind == "add") {
    parts.numbers = {a, static_cast<int64_t>(uniform_int(rng, 1, max))};
  } else if (parts.kind == "sub") {
    parts.numbers = {a, static_cast<int64_t>(uniform_int(rng, 1, static_cast<uint64_t>(a)))};
  } else if (parts.kind == "mul") {
    parts.numbers = {static_cast<int64_t>(uniform_int(rng, 2, 9)), static_cast<int64_t>(uniform_int(rng, 2, 9))};
  } else {
    const auto b = static_cast<int64_t>(uniform_int(rng, 1, max));
    const auto c = static_cast<int64_t>(uniform_int(rng, 1, std::min<uint64_t>(max, static_cast<uint64_t>(a + b))));
    parts.numbers = {a, b, c};
  }
  return parts;
}

std::string question_of(const Parts& p) {
  const auto& n = p.numbers;
  std::ostringstream q;
  if (p.kind == "add")
    q << p.name << " has " << n[0] << ' ' << p.item << ". " << p.pronoun << " buys " << n[1]
      << " more. How many " << p.item << " does " << p.name << " have now?";
  else if (p.kind == "sub")
    q << p.name << " has " << n[0] << ' ' << p.item << ". " << p.pronoun << " gives " << n[1] << " to "
      << p.other << ". How many " << p.item << " does " << p.name << " have left?";
  else if (p.kind == "mul")
    q << p.name << " buys " << n[0] << " bags with " << n[1] << ' ' << p.item << " in each. How many "
      << p.item << " does " << p.name << " have?";
  else
    q << p.name << " has " << n[0] << ' ' << p.item << ", buys " << n[1] << " more and then gives " << n[2]
      << " away. How many " << p.item << " does " << p.name << " have now?";
  return q.str();
}

Problem problem_of(const Parts& p) {
  return Problem{question_of(p), std::to_string(answer_of(p.kind, p.numbers)),
                 nlohmann::json{{"task", "arithmetic"}, {"kind", p.kind}, {"numbers", p.numbers}}};
}

std::vector<Parts> generate_parts(const ArithmeticTaskConfig& config, std::size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Parts> out;
  out.reserve(count);
  std::unordered_set<std::string> seen;
  for (std::size_t i = 0; i < count; ++i) {
    // Redraw a repeat a bounded number of times: when the space is nearly used up, accept it.
    Parts parts = draw_parts(config, rng);
    for (int attempt = 0; attempt < 64 && seen.count(question_of(parts)); ++attempt) parts = draw_parts(config, rng);
    seen.insert(question_of(parts));
    out.push_back(std::move(parts));
  }
  return out;
}

// The name and item back from a question this file wrote; clean_solution takes a bare Problem.
Parts parts_from_problem(const Problem& problem) {
  const auto& meta = problem.metadata;
  R1_CHECK(meta.is_object() && meta.contains("task") && meta["task"] == "arithmetic" && meta.contains("kind") &&
               meta["kind"].is_string() && meta.contains("numbers") && meta["numbers"].is_array(),
           "clean_solution: not an arithmetic task problem: ", meta.dump());
  Parts parts;
  parts.kind = meta["kind"].get<std::string>();
  parts.numbers = meta["numbers"].get<std::vector<int64_t>>();
  const std::size_t expected = parts.kind == "add_sub" ? 3 : 2;
  R1_CHECK(parts.numbers.size() == expected, "clean_solution: kind '", parts.kind, "' needs ", expected,
           " numbers, got ", meta["numbers"].dump());
  std::istringstream words(problem.question);
  std::vector<std::string> tokens;
  for (std::string word; words >> word;) tokens.push_back(word);
  // "X has A ITEM." | "X has A ITEM," | "X buys A bags with B ITEM in each."
  const std::size_t item_at = parts.kind == "mul" ? 6 : 3;
  R1_CHECK(tokens.size() > item_at, "clean_solution: unexpected question: ", problem.question);
  parts.name = tokens[0];
  parts.item = tokens[item_at];
  while (!parts.item.empty() && (parts.item.back() == '.' || parts.item.back() == ',')) parts.item.pop_back();
  return parts;
}

// Deliberate flaws of one corpus sample.
struct Flaws {
  int wrong_step = -1;  // index of the step whose result is off, -1 for none
  int64_t offset = 0;   // by how much
  int dropped_tag = -1;  // index into kTags, -1 for none
  std::string drift_language;  // "" for English throughout
};

constexpr std::array<const char*, 4> kTags{"<think>", "</think>", "<answer>", "</answer>"};

struct DriftWords {
  const char* language;
  const char* lead;        // before the first equation that drifts
  const char* lead_after;  // before an equation that follows another
  const char* phrase;      // a whole sentence, so a word-level detector sees the language
};
constexpr std::array<DriftWords, 3> kDrift{{
    {"de", "Also ist", "Dann ist", "Das ist einfach."},
    {"fr", "Donc", "Puis", "C'est facile."},
    {"es", "Entonces", "Luego", "Es f\xc3\xa1" "cil."},
}};

struct Written {
  std::string completion;
  int64_t final_answer = 0;
};

Written write_solution(const Parts& p, const Flaws& flaws, bool restate_question) {
  const auto& n = p.numbers;
  std::vector<std::string> sentences;
  struct Step {
    char op;
    int64_t rhs;
  };
  std::vector<Step> steps;
  if (!restate_question) {
    steps = {{p.kind == "add" || p.kind == "add_sub" ? '+' : p.kind == "sub" ? '-' : '*', n[1]}};
    if (p.kind == "add_sub") steps.push_back({'-', n[2]});
  } else if (p.kind == "add") {
    sentences.push_back(p.name + " has " + std::to_string(n[0]) + " " + p.item + " and buys " + std::to_string(n[1]) + " more.");
    steps = {{'+', n[1]}};
  } else if (p.kind == "sub") {
    sentences.push_back(p.name + " has " + std::to_string(n[0]) + " " + p.item + " and gives away " + std::to_string(n[1]) + ".");
    steps = {{'-', n[1]}};
  } else if (p.kind == "mul") {
    sentences.push_back(std::to_string(n[0]) + " bags with " + std::to_string(n[1]) + " " + p.item + " each.");
    steps = {{'*', n[1]}};
  } else {
    steps = {{'+', n[1]}, {'-', n[2]}};
  }

  const DriftWords* drift = nullptr;
  for (const auto& words : kDrift)
    if (flaws.drift_language == words.language) drift = &words;
  R1_ASSERT(flaws.drift_language.empty() || drift, "unknown drift language ", flaws.drift_language);

  int64_t value = n[0];
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const int64_t lhs = value;
    value = steps[i].op == '+' ? lhs + steps[i].rhs : steps[i].op == '-' ? lhs - steps[i].rhs : lhs * steps[i].rhs;
    if (static_cast<int>(i) == flaws.wrong_step) value += value + flaws.offset < 0 ? -flaws.offset : flaws.offset;
    std::string equation = std::to_string(lhs) + " " + steps[i].op + " " + std::to_string(steps[i].rhs) + " = " +
                           std::to_string(value) + ".";
    // The first sentence stays English; every later one drifts.
    if (drift && !sentences.empty()) equation = std::string(i == 0 ? drift->lead : drift->lead_after) + " " + equation;
    sentences.push_back(std::move(equation));
  }
  if (drift) sentences.push_back(drift->phrase);

  std::string think;
  for (const auto& sentence : sentences) think += (think.empty() ? "" : " ") + sentence;
  const std::array<std::string, 4> tags{kTags[0], kTags[1], kTags[2], kTags[3]};
  auto tag = [&](int index) { return index == flaws.dropped_tag ? std::string() : tags[index]; };
  return {tag(0) + think + tag(1) + " " + tag(2) + std::to_string(value) + tag(3), value};
}

std::string strip_whitespace_and_commas(const std::string& text) {
  std::string out;
  for (char c : text)
    if (c != ',' && !std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

}  // namespace

std::vector<Problem> generate_problems(const ArithmeticTaskConfig& config, std::size_t count, uint64_t seed) {
  std::vector<Problem> problems;
  problems.reserve(count);
  for (const auto& parts : generate_parts(config, count, seed)) problems.push_back(problem_of(parts));
  return problems;
}

std::string clean_solution(const Problem& problem, bool restate_question) {
  return write_solution(parts_from_problem(problem), {}, restate_question).completion;
}

const std::vector<std::string>& person_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& person : kPeople) out.push_back(person.name);
    return out;
  }();
  return names;
}

const std::vector<std::string>& item_names() {
  static const std::vector<std::string> names(kItems.begin(), kItems.end());
  return names;
}

std::vector<WorkedSolution> generate_corpus(const ArithmeticTaskConfig& task, const CorpusFlawsConfig& flaws,
                                            std::size_t count, uint64_t seed) {
  // A second stream for flaws, so that the problems of a corpus equal generate_problems(seed).
  std::mt19937_64 rng(seed ^ 0x9E3779B97F4A7C15ULL);
  std::vector<WorkedSolution> corpus;
  corpus.reserve(count);
  for (const auto& parts : generate_parts(task, count, seed)) {
    // Every draw is made for every sample, so one flaw's share never shifts another's draws.
    const bool wrong = uniform_unit(rng) < flaws.wrong_step;
    const bool missing = uniform_unit(rng) < flaws.missing_tags;
    const bool drifted = uniform_unit(rng) < flaws.language_drift;
    const int step = static_cast<int>(uniform_int(rng, 0, parts.kind == "add_sub" ? 1 : 0));
    const auto magnitude = static_cast<int64_t>(uniform_int(rng, 1, 3));
    const int64_t offset = uniform_int(rng, 0, 1) ? magnitude : -magnitude;
    const int tag = static_cast<int>(uniform_int(rng, 0, kTags.size() - 1));

    Flaws sample_flaws;
    if (wrong) {
      sample_flaws.wrong_step = step;
      sample_flaws.offset = offset;
    }
    if (missing) sample_flaws.dropped_tag = tag;
    if (drifted) sample_flaws.drift_language = flaws.drift_language;

    WorkedSolution solution;
    solution.problem = problem_of(parts);
    const Written written = write_solution(parts, sample_flaws, task.restate_question);
    solution.completion = written.completion;
    solution.correct = std::to_string(written.final_answer) == solution.problem.answer;
    solution.well_formed = !missing;
    solution.drifted = drifted;
    corpus.push_back(std::move(solution));
  }
  return corpus;
}

std::vector<Problem> load_problems_jsonl(const std::string& path) {
  std::vector<Problem> problems;
  for_each_jsonl(path, [&](const nlohmann::json& row, int64_t line_number) {
    const char* question_key = row.contains("question") ? "question" : "prompt";
    R1_CHECK(row.contains(question_key), path, ":", line_number, ": missing \"question\" (or \"prompt\")");
    R1_CHECK(row[question_key].is_string() && !trim(row[question_key].get<std::string>()).empty(), path, ":",
             line_number, ": \"", question_key, "\" must be a non-empty string");

    R1_CHECK(row.contains("answer"), path, ":", line_number, ": missing \"answer\"");
    const auto& answer = row["answer"];
    std::string reference;
    if (answer.is_number_integer()) {
      reference = answer.dump();
    } else if (answer.is_number_float()) {
      const double value = answer.get<double>();
      // 12.0 is the integer answer 12; anything else keeps JSON's shortest round-trip form.
      const bool integral = std::isfinite(value) && std::trunc(value) == value && std::fabs(value) < 0x1.0p53;
      reference = integral ? std::to_string(static_cast<int64_t>(value)) : answer.dump();
    } else if (answer.is_string()) {
      const std::string text = answer.get<std::string>();
      const auto marker = text.rfind("####");
      // GSM8K: the worked answer ends in "#### 1,234"; only that tail is the reference.
      reference = marker == std::string::npos ? trim(text) : strip_whitespace_and_commas(text.substr(marker + 4));
    } else {
      R1_FAIL(path, ":", line_number, ": \"answer\" must be a string or a number, got ", answer.type_name());
    }
    R1_CHECK(!reference.empty(), path, ":", line_number, ": empty answer");

    nlohmann::json metadata = row.contains("metadata") && row["metadata"].is_object() ? row["metadata"] : nlohmann::json::object();
    metadata["source"] = path;
    metadata["line"] = line_number;
    problems.push_back(Problem{row[question_key].get<std::string>(), reference, std::move(metadata)});
  }, "problems file");
  return problems;
}

}  // namespace r1::sampling
