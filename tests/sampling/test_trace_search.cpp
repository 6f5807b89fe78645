// Tests for the reasoning/answer split and for full-text search over completions: all-words
// matching, hostile input treated as plain words, raw FTS5 queries, filters and paging, and the
// index following deletes and updates made by truncate_stage or by the sqlite3 shell.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <sqlite3.h>

#include "common/error.h"
#include "sampling/sqlite_statement.h"
#include "sampling/trace_store.h"
#include "tests/sampling/temp_dir.h"
#include "tests/sampling/trace_test_util.h"

using namespace r1::sampling;
using namespace r1::sampling::testing;

namespace {

std::vector<int64_t> ids_of(const std::vector<TraceRow>& rows) {
  std::vector<int64_t> ids;
  for (const auto& row : rows) ids.push_back(row.id);
  return ids;
}

std::vector<int64_t> range_down(int64_t from, int64_t to) {  // from, from - 1, ..., to
  std::vector<int64_t> ids;
  for (int64_t id = from; id >= to; --id) ids.push_back(id);
  return ids;
}

TraceRecord record(const std::string& stage, int64_t step, int64_t index, const std::string& completion, double reward) {
  TraceRecord r;
  r.stage = stage;
  r.step = step;
  r.prompt_index = index;
  r.prompt = "prompt " + std::to_string(index);
  r.completion = completion;
  r.reward = reward;
  r.completion_tokens = int64_t(completion.size());
  r.finish_reason = "stop";
  r.outcome = reward > 0 ? "pass" : "fail";
  return r;
}

// The search corpus: ids 1..6 hand-written, 7 in another stage, 8..37 filler (alternate stages).
struct Corpus {
  TempDir dir;
  std::string path = dir.file("traces.db");
  TraceStore store{path};
  int64_t run = store.begin_run("run", "");

  Corpus() {
    std::vector<TraceRecord> records = {
        record("zero", 0, 1, "The quick brown fox jumps over the lazy dog", 1.0),
        record("zero", 0, 2, "the DOG sleeps; the fox watches", 0.0),
        record("zero", 0, 3, "x ) OR 1=1 -- y", 0.0),
        record("zero", 0, 4, "'; DROP TABLE samples; --", 0.0),
        record("zero", 0, 5, "near( col:x * done", 0.0),
        record("zero", 0, 6, "He said \"hello\" and 'bye' AND OR NOT", 0.0),
        record("reasoning_rl", 0, 7, "a fox at the end", 1.0),
    };
    for (int k = 0; k < 30; ++k)
      records.push_back(record(k % 2 ? "reasoning_rl" : "zero", 1, 100 + k, "filler fox number " + std::to_string(k),
                               double(k % 2)));
    store.add_samples(run, records);
  }
};

TraceFilter everything() {
  TraceFilter filter;
  filter.limit = -1;
  return filter;
}

}  // namespace

TEST_CASE("split_reasoning: the chain of thought and the answer, trimmed") {
  struct Case {
    std::string name, completion, reasoning, answer;
  };
  const std::vector<Case> cases = {
      {"think then answer tags", "<think>a</think><answer>b</answer>", "a", "b"},
      {"no tags: the whole text is the answer", "  just an answer \n", "", "just an answer"},
      {"empty", "", "", ""},
      {"<think> never closed", "<think> still thinking", "still thinking", ""},
      {"<think> never closed, nothing after it", "<think>  \n", "", ""},
      {"<think> never closed, an answer tag inside it", "<think>abc <answer>5</answer>", "abc <answer>5</answer>", ""},
      {"only </think> (the prompt opened <think>)", "reasoning before</think> the answer ", "reasoning before",
       "the answer"},
      {"several </think>: the last one ends the reasoning", "a</think>b</think> c", "a</think>b", "c"},
      {"several </think> then an answer tag", "<think>x</think>y</think><answer> z </answer>", "x</think>y", "z"},
      {"answer tag without think", "The result: <answer> 42 </answer>", "", "42"},
      {"the last answer tag wins", "<think>a</think><answer>first</answer> <answer>second</answer>", "a", "second"},
      {"closed thinking, no answer", "<think>a</think>", "a", ""},
      {"closed thinking, untagged answer", "<think>a</think>  tail text\n", "a", "tail text"},
      {"whitespace everywhere", "\n\t<think>\n  spaced out \n</think>\n\n  <answer>\n 7 \n</answer>\n", "spaced out",
       "7"},
      {"text before <think> is not reasoning", "preamble <think>r</think><answer>x</answer>", "r", "x"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CAPTURE(c.completion);
    std::string reasoning = "stale", answer = "stale";  // outputs are overwritten, not appended
    split_reasoning(c.completion, reasoning, answer);
    CHECK(reasoning == c.reasoning);
    CHECK(answer == c.answer);
  }
}

TEST_CASE("the store cuts reasoning and answer out of each completion with split_completion") {
  TempDir dir;
  TraceStore store(dir.file("traces.db"));
  const int64_t run = store.begin_run("run", "");
  const std::vector<std::string> completions = {
      "<think> why </think> <answer> 3 </answer>",
      "  plain answer ",
      "<think> never closed",
      "a</think>b</think> c",
      "\xe2\x82\xac<think>\xc3\xbc</think><answer>\xf0\x9f\x98\x80</answer>",
  };
  std::vector<TraceRecord> records;
  for (std::size_t i = 0; i < completions.size(); ++i) records.push_back(record("zero", 0, int64_t(i), completions[i], 0.0));
  store.add_samples(run, records);
  for (std::size_t i = 0; i < completions.size(); ++i) {
    CAPTURE(completions[i]);
    std::string reasoning, answer;
    split_reasoning(completions[i], reasoning, answer);
    const auto parts = split_completion(completions[i]);
    CHECK(reasoning == completions[i].substr(parts.reasoning_begin, parts.reasoning_end - parts.reasoning_begin));
    CHECK(answer == completions[i].substr(parts.answer_begin, parts.answer_end - parts.answer_begin));
    const auto row = store.get(int64_t(i) + 1);
    REQUIRE(row.has_value());
    CHECK(row->reasoning == reasoning);
    CHECK(row->answer == answer);
  }
  CHECK(store.get(1)->reasoning == "why");
  CHECK(store.get(1)->answer == "3");
  CHECK(store.get(5)->reasoning == "\xc3\xbc");
  CHECK(store.get(5)->answer == "\xf0\x9f\x98\x80");
}

TEST_CASE("search: every word, any order, any case, newest first, with a snippet") {
  Corpus corpus;
  const TraceStore& store = corpus.store;
  const TraceFilter all = everything();

  CHECK(ids_of(store.search("fox dog", all)) == std::vector<int64_t>{2, 1});
  CHECK(ids_of(store.search("dog fox", all)) == std::vector<int64_t>{2, 1});
  CHECK(ids_of(store.search("  dog\tfox\n", all)) == std::vector<int64_t>{2, 1});
  CHECK(store.search("dog cat", all).empty());  // one word absent: no match
  CHECK(store.search("cat", all).empty());
  CHECK(ids_of(store.search("FOX DOG", all)) == std::vector<int64_t>{2, 1});
  CHECK(ids_of(store.search("Dog", all)) == std::vector<int64_t>{2, 1});
  CHECK(ids_of(store.search("lazy", all)) == std::vector<int64_t>{1});

  // Every fox: the filler (37..8), id 7, then 2 and 1.
  std::vector<int64_t> foxes = range_down(37, 7);
  foxes.push_back(2);
  foxes.push_back(1);
  CHECK(ids_of(store.search("fox", all)) == foxes);
  CHECK(ids_of(store.search("fox", {})) == std::vector<int64_t>(foxes.begin(), foxes.begin() + 20));  // default limit

  // The snippet holds the match in [ ], in the text's own case; the row is complete.
  const auto dog = store.search("dog", all);
  REQUIRE(dog.size() == 2);
  CHECK(dog[0].snippet.find("[DOG]") != std::string::npos);
  CHECK(dog[1].snippet.find("[dog]") != std::string::npos);
  CHECK(dog[1].snippet.find("[lazy]") == std::string::npos);
  CHECK(dog[1].completion == "The quick brown fox jumps over the lazy dog");
  CHECK(dog[1].prompt == "prompt 1");
  CHECK(dog[1].stage == "zero");
  CHECK(dog[1].run_name == "run");
  const auto both = store.search("quick dog", all);
  REQUIRE(both.size() == 1);
  CHECK(both[0].snippet.find("[quick]") != std::string::npos);
  CHECK(both[0].snippet.find("[dog]") != std::string::npos);
  CHECK(store.get(1)->snippet.empty());  // only search fills it
}

TEST_CASE("search: filters narrow, paging pages, sort is ignored") {
  Corpus corpus;
  const TraceStore& store = corpus.store;
  TraceFilter filter = everything();
  filter.stage = "reasoning_rl";
  // reasoning_rl: id 7 and the odd filler k (ids 9, 11, ..., 37).
  std::vector<int64_t> rl;
  for (int64_t id = 37; id >= 9; id -= 2) rl.push_back(id);
  rl.push_back(7);
  CHECK(ids_of(store.search("fox", filter)) == rl);
  filter.stage = "zero";
  filter.min_reward = 0.5;
  CHECK(ids_of(store.search("fox", filter)) == std::vector<int64_t>{1});
  filter.min_reward.reset();
  filter.max_reward = 0.5;
  filter.min_step = 1;
  std::vector<int64_t> zero_filler;
  for (int64_t id = 36; id >= 8; id -= 2) zero_filler.push_back(id);
  CHECK(ids_of(store.search("filler fox", filter)) == zero_filler);
  filter.run_id = corpus.run + 1;
  CHECK(store.search("fox", filter).empty());

  TraceFilter page;
  page.limit = 5;
  page.sort = TraceSort::reward;  // ignored: search is newest first
  page.descending = false;
  CHECK(ids_of(store.search("fox", page)) == std::vector<int64_t>{37, 36, 35, 34, 33});
  page.offset = 5;
  CHECK(ids_of(store.search("fox", page)) == std::vector<int64_t>{32, 31, 30, 29, 28});
  page.offset = 31;
  CHECK(ids_of(store.search("fox", page)) == std::vector<int64_t>{2, 1});
  page.offset = 40;
  CHECK(store.search("fox", page).empty());
  page.offset = -1;
  CHECK_THROWS_AS(store.search("fox", page), r1::UserError);
}

TEST_CASE("search: hostile input in the default mode is plain words, never a query") {
  Corpus corpus;
  const TraceStore& store = corpus.store;
  struct Case {
    std::string text;
    std::vector<int64_t> ids;
  };
  const std::vector<Case> cases = {
      {"\"", {}},
      {"'", {}},
      {"\"\"", {}},
      {"*", {}},
      {"AND OR NOT", {6}},           // the words, not operators
      {"NOT dog", {}},               // "not" and "dog": no text has both
      {"fox OR cat", {}},            // "or" and "cat" must occur too
      {"NEAR(", {5}},
      {"fox NEAR dog", {}},
      {"col:x", {5}},                // no column filter: the words "col" and "x" in a row
      {"completion:lazy", {}},       // "completion lazy" does not occur as a phrase
      {") OR 1=1 --", {3}},
      {"'; DROP TABLE samples; --", {4}},
      {"fo*", {}},                   // no prefix query
      {"\"brown fox\"", {1}},        // the quote marks are text
      {"^quick", {1}},
      {"hello\" OR \"bye", {6}},
      {"(fox", range_down(37, 7)},   // unbalanced parenthesis, the word fox... and rows 1, 2 below
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    std::vector<TraceRow> rows;
    CHECK_NOTHROW(rows = store.search(c.text, everything()));
    auto want = c.ids;
    if (c.text == "(fox") want.insert(want.end(), {2, 1});
    CHECK(ids_of(rows) == want);
  }
  // Nothing to search for at all is the user's mistake.
  CHECK(error_of<r1::UserError>([&] { store.search(" \t\n", everything()); }).find("no words") != std::string::npos);
  CHECK(store.count() == 37);  // and nothing was dropped
}

TEST_CASE("search: raw FTS5 queries, and a malformed one is a UserError") {
  Corpus corpus;
  const TraceStore& store = corpus.store;
  const TraceFilter all = everything();
  CHECK(ids_of(store.search("\"brown fox\"", all, true)) == std::vector<int64_t>{1});
  CHECK(store.search("\"fox brown\"", all, true).empty());
  CHECK(ids_of(store.search("lazy OR sleeps", all, true)) == std::vector<int64_t>{2, 1});
  CHECK(ids_of(store.search("NEAR(quick dog, 10)", all, true)) == std::vector<int64_t>{1});
  CHECK(store.search("NEAR(quick dog, 2)", all, true).empty());
  CHECK(ids_of(store.search("fox NOT dog", all, true)) == range_down(37, 7));
  CHECK(store.search("fo*", all, true).size() == 33);
  CHECK(ids_of(store.search("completion:lazy", all, true)) == std::vector<int64_t>{1});
  for (const std::string bad : {"\"unbalanced", "AND", "fox AND", "(fox", "NEAR(fox", "col:x", "fox OR", "*"}) {
    CAPTURE(bad);
    const std::string error = error_of<r1::UserError>([&] { store.search(bad, all, true); });
    CHECK(error.find("not a valid full-text query") != std::string::npos);
    CHECK(error.find(bad) != std::string::npos);
  }
  // The store still works after a failed query.
  CHECK(ids_of(store.search("lazy", all, true)) == std::vector<int64_t>{1});
}

TEST_CASE("search follows truncate_stage and writes made through the sqlite3 shell") {
  Corpus corpus;
  TraceStore& store = corpus.store;
  const TraceFilter all = everything();

  // truncate_stage: the filler of step 1 goes, step 0 stays; re-written rows are found anew.
  CHECK(store.truncate_stage(corpus.run, "zero", 1) == 15);
  CHECK(ids_of(store.search("fox", all)) == std::vector<int64_t>({37, 35, 33, 31, 29, 27, 25, 23, 21, 19, 17, 15, 13,
                                                                  11, 9, 7, 2, 1}));
  CHECK(store.search("filler number 0", all).empty());
  store.add_samples(corpus.run, {record("zero", 1, 100, "filler again", 0.0)});
  const auto again = store.search("filler again", all);
  REQUIRE(again.size() == 1);
  CHECK(again[0].id == 38);
  CHECK(store.search("filler number 0", all).empty());

  // Another tool edits the file: deleted rows stop matching at once (the index joins the samples);
  // an edited completion is found by its new text after the index is rebuilt.
  const std::string update = "UPDATE samples SET completion = 'zebra crossing' WHERE id = 1; DELETE FROM samples WHERE id = 2;";
  if (have_sqlite3_shell()) {
    shell_output("/usr/bin/sqlite3 '" + corpus.path + "' \"" + update + "\"");
  } else {
    MESSAGE("/usr/bin/sqlite3 is absent: the same SQL goes through the C API instead");
    raw_sql(corpus.path, update);
  }
  CHECK(ids_of(store.search("sleeps", all)).empty());  // row 2 is gone before any rebuild
  store.rebuild_index();
  CHECK(store.search("quick", all).empty());
  CHECK(store.search("sleeps", all).empty());
  CHECK(ids_of(store.search("zebra", all)) == std::vector<int64_t>{1});
  CHECK(store.get(1)->completion == "zebra crossing");
  CHECK_FALSE(store.get(2).has_value());
  CHECK(ids_of(store.search("fox", all)).back() == 7);
  raw_sql(corpus.path + ".fts", "INSERT INTO samples_fts(samples_fts) VALUES ('integrity-check')");
}

TEST_CASE("a writer of the store and a writer of its index lock only their own file") {
  // The writer thread inserts samples while the indexer thread writes the index: with BEGIN
  // IMMEDIATE each held both files' locks and waited out the other's whole transaction.
  TempDir dir;
  const std::string path = dir.file("traces.db");
  { TraceStore store(path); }  // creates the store and its index file
  auto connect = [&] {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 0);  // a lock held by the other connection fails at once
    sqlite_exec(db, ("ATTACH DATABASE '" + path + ".fts' AS fts").c_str());
    return db;
  };
  sqlite3* writer = connect();
  sqlite3* indexer = connect();
  {
    auto store_write = SqliteTransaction::writing_only(writer, "main.meta");
    CHECK(sqlite3_txn_state(writer, "fts") == SQLITE_TXN_NONE);
    auto index_write = SqliteTransaction::writing_only(indexer, "fts.meta");  // would be SQLITE_BUSY
    CHECK(sqlite3_txn_state(indexer, "main") != SQLITE_TXN_WRITE);
    index_write.commit();
    // A second store writer does wait: the lock is real.
    CHECK_THROWS_WITH(SqliteTransaction::writing_only(indexer, "main.meta"), doctest::Contains("locked"));
    store_write.commit();
  }
  CHECK_THROWS_WITH(SqliteTransaction::writing_only(writer, "meta"), doctest::Contains("schema.table"));
  sqlite3_close(writer);
  sqlite3_close(indexer);
}
