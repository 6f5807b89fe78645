// Preference pairs: the JSONL reader's errors name file and line; pairs built from a judged stage in
// a real store pair each prompt's accepted and rejected samples and never a duplicate of a kept one.
#include <doctest/doctest.h>

#include "common/error.h"
#include "sampling/preference_pairs.h"
#include "tests/sampling/temp_dir.h"
#include "tests/sampling/trace_test_util.h"

using namespace r1::sampling;
using r1::sampling::testing::TempDir;
using r1::sampling::testing::error_of;

namespace {
void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TraceRecord judged(const std::string& stage, int64_t prompt, int64_t sample, const std::string& completion,
                   std::optional<bool> accepted, const std::string& reason = "") {
  TraceRecord r;
  r.stage = stage;
  r.step = 1;
  r.prompt_index = prompt;
  r.sample_index = sample;
  r.prompt = "question " + std::to_string(prompt);
  r.reference = "1";
  r.completion = completion;
  r.accepted = accepted;
  r.rejection_reason = reason;
  return r;
}
}  // namespace

TEST_CASE("preference pairs JSONL: read in order; bad lines are errors naming file and line") {
  TempDir dir;
  const auto path = dir.file("pairs.jsonl");
  write(path, R"({"prompt": "Say hi.", "chosen": "<answer>Hi!</answer>", "rejected": "<answer>Hallo!</answer>"})"
              "\n\n"
              R"({"prompt": "p2", "chosen": "a", "rejected": "b", "extra": 1})" "\n");
  const auto pairs = load_preference_pairs_jsonl(path);
  REQUIRE(pairs.size() == 2);
  CHECK(pairs[0].prompt == "Say hi.");
  CHECK(pairs[0].rejected == "<answer>Hallo!</answer>");
  CHECK(pairs[1].chosen == "a");

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"{\"prompt\": \"p\", \"chosen\": \"a\"}\n", ":1: missing \"rejected\""},
      {"\n{\"prompt\": 3, \"chosen\": \"a\", \"rejected\": \"b\"}\n", ":2: \"prompt\" must be a string"},
      {"{not json\n", ":1: not valid JSON"},
      {"[1, 2]\n", ":1: expected a JSON object"},
      {"{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"a\"}\n", ":1: \"chosen\" equals \"rejected\""},
      {"\n\n", ": no preference pairs"},
  };
  for (const auto& [text, message] : bad) {
    write(path, text);
    const auto error = error_of<r1::UserError>([&] { load_preference_pairs_jsonl(path); });
    CAPTURE(error);
    CHECK(error.find(path + message) != std::string::npos);
  }
  CHECK(error_of<r1::UserError>([&] { load_preference_pairs_jsonl(dir.file("absent.jsonl")); }).find("cannot open") !=
        std::string::npos);
}

TEST_CASE("pairs from the store: accepted x rejected of one prompt, duplicates of kept samples left out") {
  TempDir dir;
  TraceStore store(dir.file("traces.db"));
  const int64_t run = store.begin_run("r", "");
  const int64_t other_run = store.begin_run("other", "");
  store.add_samples(run, {
      // prompt 0: two accepted, three rejected (one a duplicate of an accepted text)
      judged("rs", 0, 0, "good A", true), judged("rs", 0, 1, "bad X", false, "incorrect"),
      judged("rs", 0, 2, "good A", false, "duplicate"), judged("rs", 0, 3, "good B", true),
      judged("rs", 0, 4, "bad Y", false, "mixed_language"), judged("rs", 0, 5, "bad Y", false, "mixed_language"),
      // prompt 1: only accepted; prompt 2: only rejected -> no pairs
      judged("rs", 1, 0, "fine", true), judged("rs", 2, 0, "wrong", false, "incorrect"),
      // prompt 3: one of each
      judged("rs", 3, 0, "no", false, "bad_format"), judged("rs", 3, 1, "yes", true),
      // another stage, unjudged samples, another run: never used
      judged("zero", 0, 0, "z", std::nullopt), judged("cs", 0, 0, "c", false, "incorrect"),
  });
  store.add_samples(other_run, {judged("rs", 0, 0, "elsewhere", false, "incorrect")});

  const auto pairs = preference_pairs_from_store(store, run, "rs", 4);
  // prompt 0: accepted [good A, good B] x rejected [bad X, bad Y] -> max(2, 2) = 2 pairs, cycling
  REQUIRE(pairs.size() == 3);
  CHECK(pairs[0].prompt == "question 0");
  CHECK((pairs[0].chosen == "good A" && pairs[0].rejected == "bad X"));
  CHECK((pairs[1].chosen == "good B" && pairs[1].rejected == "bad Y"));
  CHECK((pairs[2].prompt == "question 3" && pairs[2].chosen == "yes" && pairs[2].rejected == "no"));
  for (const auto& pair : pairs) CHECK(pair.chosen != pair.rejected);
  CHECK(preference_pairs_from_store(store, run, "rs", 1).size() == 2);  // one per prompt
  CHECK(preference_pairs_from_store(store, run, "zero", 4).empty());
}
