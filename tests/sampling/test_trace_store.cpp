// Tests for the SQLite trace store: schema, inserts, filters, stats, reopening, refusals of foreign
// or newer files, hostile strings, and that the stock sqlite3 shell can read sample_view.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "sampling/trace_store.h"
#include "tests/sampling/temp_dir.h"

using namespace r1::sampling;
using r1::sampling::testing::TempDir;

namespace {

// Deterministic records whose values are easy to recompute by hand from the index.
TraceRecord make_record(int i) {
  TraceRecord r;
  r.stage = i % 3 == 0 ? "reasoning_rl" : "zero";
  r.step = i / 100;
  r.prompt_index = i / 8;
  r.sample_index = i % 8;
  r.prompt = "What is " + std::to_string(i) + " + 1?";
  r.completion = "<think>" + std::to_string(i) + " + 1 = " + std::to_string(i + 1) + ".</think> <answer>" +
                 std::to_string(i + 1) + "</answer>";
  r.reference = std::to_string(i + 1);
  r.reward = (i % 7) * 0.25 - 0.5;
  r.components["accuracy"] = i % 2;
  r.components["format"] = (i % 5) * 0.1;
  if (i % 4 == 0) r.components["language"] = (i % 3) * 0.5;  // only some samples have it
  r.outcome = i % 2 ? "pass" : "fail";
  r.reason = i % 2 ? "" : "wrong answer";
  r.advantage = (i % 9) - 4.0;
  r.num_tokens = 10 + i % 13;
  r.finish_reason = i % 10 == 0 ? "length" : "stop";
  r.mean_logprob = -0.01 * i;
  r.seed = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL;  // many above 2^63
  return r;
}

void check_same(const TraceRecord& got, const TraceRecord& want) {
  CHECK(got.stage == want.stage);
  CHECK(got.step == want.step);
  CHECK(got.prompt_index == want.prompt_index);
  CHECK(got.sample_index == want.sample_index);
  CHECK(got.prompt == want.prompt);
  CHECK(got.completion == want.completion);
  CHECK(got.reference == want.reference);
  CHECK(got.reward == want.reward);
  CHECK(got.components == want.components);
  CHECK(got.outcome == want.outcome);
  CHECK(got.reason == want.reason);
  CHECK(got.advantage == want.advantage);
  CHECK(got.num_tokens == want.num_tokens);
  CHECK(got.finish_reason == want.finish_reason);
  CHECK(got.mean_logprob == want.mean_logprob);
  CHECK(got.seed == want.seed);
}

std::vector<TraceRecord> make_records(int count) {
  std::vector<TraceRecord> records;
  for (int i = 0; i < count; ++i) records.push_back(make_record(i));
  return records;
}

std::vector<int64_t> ids_of(const std::vector<TraceRow>& rows) {
  std::vector<int64_t> ids;
  for (const auto& row : rows) ids.push_back(row.id);
  return ids;
}

// Ids (1-based, inserted in order into a fresh file) of the records that pass `keep`.
std::vector<int64_t> expected_ids(const std::vector<TraceRecord>& records, const std::function<bool(const TraceRecord&)>& keep) {
  std::vector<int64_t> ids;
  for (std::size_t i = 0; i < records.size(); ++i)
    if (keep(records[i])) ids.push_back(static_cast<int64_t>(i) + 1);
  return ids;
}

template <class Error>
std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error of the expected type)";
}

// Raw SQL for the tests only: tampering with files the way a newer r1 or another tool would.
void raw_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  const std::string text = message ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, text);
}

std::string shell_output(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  for (std::size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  CHECK(pclose(pipe) == 0);
  return output;
}

}  // namespace

TEST_CASE("a new trace store is empty and has schema v1") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceStore store(path);
  CHECK(store.count() == 0);
  CHECK(store.list({}).empty());
  CHECK(store.stats().empty());
  CHECK_FALSE(store.get(1).has_value());
  CHECK(std::filesystem::exists(path));
}

TEST_CASE("1000 traces: insert, get, list with each filter, stats, reopen") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  const auto records = make_records(1000);
  int64_t run_id = 0, other_run = 0;
  {
    TraceStore store(path);
    run_id = store.begin_run("tiny-zero", "stage: zero\nlr: 1e-3\n");
    store.add_samples(run_id, records);
    CHECK(store.count() == 1000);

    SUBCASE("get returns every field") {
      for (int i : {0, 1, 499, 999}) {
        CAPTURE(i);
        const auto row = store.get(i + 1);
        REQUIRE(row.has_value());
        CHECK(row->id == i + 1);
        CHECK(row->run_id == run_id);
        CHECK(std::regex_match(row->created_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
        check_same(*row, records[i]);
      }
      CHECK_FALSE(store.get(1001).has_value());
      CHECK_FALSE(store.get(-1).has_value());
    }

    SUBCASE("list: default, limit and offset") {
      const auto first = store.list({});
      REQUIRE(first.size() == 20);
      for (int i = 0; i < 20; ++i) {
        CHECK(first[i].id == i + 1);
        check_same(first[i], records[i]);
      }
      TraceFilter page;
      page.limit = 5;
      page.offset = 995;
      CHECK(ids_of(store.list(page)) == std::vector<int64_t>{996, 997, 998, 999, 1000});
      page.offset = 1000;
      CHECK(store.list(page).empty());
      TraceFilter all;
      all.limit = -1;
      CHECK(store.list(all).size() == 1000);
      TraceFilter bad;
      bad.offset = -1;
      CHECK(error_of<r1::UserError>([&] { store.list(bad); }).find("offset") != std::string::npos);
    }

    SUBCASE("list: each filter") {
      TraceFilter filter;
      filter.limit = -1;
      filter.stage = "zero";
      CHECK(ids_of(store.list(filter)) == expected_ids(records, [](const TraceRecord& r) { return r.stage == "zero"; }));

      filter = {};
      filter.limit = -1;
      filter.min_step = 3;
      CHECK(ids_of(store.list(filter)) == expected_ids(records, [](const TraceRecord& r) { return r.step >= 3; }));

      filter = {};
      filter.limit = -1;
      filter.max_step = 2;
      CHECK(ids_of(store.list(filter)) == expected_ids(records, [](const TraceRecord& r) { return r.step <= 2; }));

      filter = {};
      filter.limit = -1;
      filter.min_reward = 0.25;
      CHECK(ids_of(store.list(filter)) == expected_ids(records, [](const TraceRecord& r) { return r.reward >= 0.25; }));

      filter = {};
      filter.limit = -1;
      filter.max_reward = -0.25;
      CHECK(ids_of(store.list(filter)) == expected_ids(records, [](const TraceRecord& r) { return r.reward <= -0.25; }));

      filter = {};
      filter.limit = -1;
      filter.run_id = run_id;
      CHECK(store.list(filter).size() == 1000);
      filter.run_id = run_id + 1;
      CHECK(store.list(filter).empty());

      // Every filter at once, then paged.
      filter = {};
      filter.limit = -1;
      filter.run_id = run_id;
      filter.stage = "reasoning_rl";
      filter.min_step = 2;
      filter.max_step = 7;
      filter.min_reward = 0.0;
      filter.max_reward = 0.75;
      const auto want = expected_ids(records, [](const TraceRecord& r) {
        return r.stage == "reasoning_rl" && r.step >= 2 && r.step <= 7 && r.reward >= 0.0 && r.reward <= 0.75;
      });
      REQUIRE(want.size() > 10);
      CHECK(ids_of(store.list(filter)) == want);
      filter.limit = 4;
      filter.offset = 3;
      CHECK(ids_of(store.list(filter)) == std::vector<int64_t>(want.begin() + 3, want.begin() + 7));
    }

    SUBCASE("stats per stage and step match hand-computed means") {
      struct Sums {
        int64_t count = 0;
        double reward = 0, tokens = 0;
        std::map<std::string, std::pair<double, int>> components;
      };
      std::map<std::pair<std::string, int64_t>, Sums> sums;
      for (const auto& r : records) {
        auto& s = sums[{r.stage, r.step}];
        ++s.count;
        s.reward += r.reward;
        s.tokens += static_cast<double>(r.num_tokens);
        for (const auto& [name, value] : r.components) {
          s.components[name].first += value;
          ++s.components[name].second;
        }
      }
      const auto check_stats = [&](const std::vector<StepStats>& stats, const std::optional<std::string>& stage) {
        std::size_t expected_rows = 0;
        for (const auto& [key, s] : sums) expected_rows += !stage || key.first == *stage;
        REQUIRE(stats.size() == expected_rows);
        for (std::size_t i = 0; i < stats.size(); ++i) {
          const auto& got = stats[i];
          CAPTURE(got.stage);
          CAPTURE(got.step);
          if (stage) CHECK(got.stage == *stage);
          if (i > 0) CHECK(std::make_pair(stats[i - 1].stage, stats[i - 1].step) < std::make_pair(got.stage, got.step));
          const auto& s = sums.at({got.stage, got.step});
          CHECK(got.count == s.count);
          CHECK(got.mean_reward == doctest::Approx(s.reward / static_cast<double>(s.count)));
          CHECK(got.mean_tokens == doctest::Approx(s.tokens / static_cast<double>(s.count)));
          REQUIRE(got.mean_components.size() == s.components.size());
          for (const auto& [name, sum_count] : s.components)
            CHECK(got.mean_components.at(name) == doctest::Approx(sum_count.first / sum_count.second));
        }
      };
      check_stats(store.stats(), std::nullopt);
      check_stats(store.stats("zero"), "zero");
      check_stats(store.stats("reasoning_rl"), "reasoning_rl");
      CHECK(store.stats("no such stage").empty());
    }

    other_run = store.begin_run("second", "");
    CHECK(other_run != run_id);
    store.add_samples(other_run, {make_record(5000)});
    store.add_step_metrics(run_id, "zero", 3, {{"loss", 0.5}, {"kl", 0.01}});
    store.add_step_metrics(run_id, "zero", 3, {{"loss", 0.25}});  // a resumed run logs it again
  }

  // Reopened (and read-only): everything is still there.
  for (bool read_only : {false, true}) {
    CAPTURE(read_only);
    TraceStore store(path, read_only);
    CHECK(store.count() == 1001);
    const auto row = store.get(500);
    REQUIRE(row.has_value());
    check_same(*row, records[499]);
    TraceFilter filter;
    filter.run_id = other_run;
    const auto rows = store.list(filter);
    REQUIRE(rows.size() == 1);
    check_same(rows[0], make_record(5000));
    if (read_only) CHECK_THROWS_AS(store.begin_run("nope", ""), r1::InternalError);
  }
  CHECK(shell_output("sqlite3 '" + path + "' \"select name, value from step_metrics order by name\"") ==
        "kl|0.01\nloss|0.25\n");
}

TEST_CASE("add_samples is one transaction: a failure part-way leaves nothing behind") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  {
    TraceStore store(path);
    store.begin_run("run", "");
  }
  // A trigger stands in for any failure on the third insert (disk full, a constraint).
  raw_sql(path,
          "CREATE TRIGGER boom BEFORE INSERT ON samples WHEN NEW.prompt = 'boom'"
          " BEGIN SELECT RAISE(ABORT, 'boom'); END;");
  TraceStore store(path);
  auto records = make_records(3);
  records[2].prompt = "boom";
  CHECK(error_of<r1::InternalError>([&] { store.add_samples(1, records); }).find("boom") != std::string::npos);
  CHECK(store.count() == 0);
  records[2].prompt = "fine";
  store.add_samples(1, records);
  CHECK(store.count() == 3);
  // A run that does not exist breaks the foreign key: an InternalError, and again nothing written.
  CHECK_THROWS_AS(store.add_samples(42, records), r1::InternalError);
  CHECK(store.count() == 3);
}

TEST_CASE("hostile strings and odd numbers round-trip unchanged") {
  TempDir dir;
  TraceStore store(dir.file("traces.db"));
  const int64_t run = store.begin_run("run '\"; DROP TABLE runs; --", "a: 'b'\n\"c\": d\n");
  const std::vector<std::string> hostile = {
      "'; DROP TABLE samples; --",
      "\"double\" and 'single' quotes, back\\slash, %s %d, ? ?1 :name @x $y",
      "Gr\xc3\xbc\xc3\x9f" "e, \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e, \xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\xa9, "
      "\xf0\x9f\x98\x80 emoji",
      "line one\nline two\r\n\ttabbed",
      "",
  };
  std::vector<TraceRecord> records;
  for (const auto& text : hostile) {
    TraceRecord r = make_record(1);
    r.stage = text;
    r.prompt = text;
    r.completion = text + text;
    r.reference = text;
    r.outcome = text;
    r.reason = text;
    r.finish_reason = text;
    r.components = {{text, 1.0}, {"plain", 2.0}};
    records.push_back(r);
  }
  TraceRecord numbers = make_record(2);
  numbers.reward = std::numeric_limits<double>::quiet_NaN();  // SQLite stores NaN as NULL
  numbers.advantage = -std::numeric_limits<double>::infinity();
  numbers.mean_logprob = std::numeric_limits<double>::denorm_min();
  numbers.seed = std::numeric_limits<uint64_t>::max();
  numbers.step = std::numeric_limits<int64_t>::min();
  numbers.num_tokens = std::numeric_limits<int64_t>::max();
  records.push_back(numbers);
  store.add_samples(run, records);
  REQUIRE(store.count() == static_cast<int64_t>(records.size()));

  for (std::size_t i = 0; i < hostile.size(); ++i) {
    CAPTURE(hostile[i]);
    const auto row = store.get(static_cast<int64_t>(i) + 1);
    REQUIRE(row.has_value());
    check_same(*row, records[i]);
    TraceFilter filter;
    filter.stage = hostile[i];
    CHECK(ids_of(store.list(filter)) == std::vector<int64_t>{static_cast<int64_t>(i) + 1});
    REQUIRE(store.stats(hostile[i]).size() == 1);
    CHECK(store.stats(hostile[i])[0].mean_components.count(hostile[i]) == 1);
  }
  const auto row = store.get(static_cast<int64_t>(records.size()));
  REQUIRE(row.has_value());
  CHECK(std::isnan(row->reward));
  CHECK(row->advantage == -std::numeric_limits<double>::infinity());
  CHECK(row->mean_logprob == std::numeric_limits<double>::denorm_min());
  CHECK(row->seed == std::numeric_limits<uint64_t>::max());
  CHECK(row->step == std::numeric_limits<int64_t>::min());
  CHECK(row->num_tokens == std::numeric_limits<int64_t>::max());
}

TEST_CASE("the store refuses files it must not touch, naming them") {
  TempDir dir;

  SUBCASE("a file that is not a database") {
    const std::string path = dir.write("notes.db", std::string(4096, 'x') + "\nthis is not SQLite\n");
    const std::string error = error_of<r1::UserError>([&] { TraceStore store(path); });
    CHECK(error.find(path) != std::string::npos);
    CHECK(error.find("not an SQLite database") != std::string::npos);
  }

  SUBCASE("a database of some other program") {
    const std::string path = dir.file("other.db");
    raw_sql(path, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT)");
    const std::string error = error_of<r1::UserError>([&] { TraceStore store(path); });
    CHECK(error.find(path) != std::string::npos);
    CHECK(error.find("not an r1 trace database") != std::string::npos);
  }

  SUBCASE("a schema newer than this r1") {
    const std::string path = dir.file("newer.db");
    { TraceStore store(path); }
    raw_sql(path, "UPDATE meta SET value = '2' WHERE key = 'schema_version'");
    const std::string error = error_of<r1::UserError>([&] { TraceStore store(path); });
    CHECK(error.find(path) != std::string::npos);
    CHECK(error.find("schema version 2 is newer") != std::string::npos);
    CHECK(error_of<r1::UserError>([&] { TraceStore store(path, true); }).find("newer") != std::string::npos);
  }

  SUBCASE("read-only on a missing file creates nothing") {
    const std::string path = dir.file("absent.db");
    const std::string error = error_of<r1::UserError>([&] { TraceStore store(path, true); });
    CHECK(error.find(path) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(path));
  }

  SUBCASE("a directory that does not exist") {
    const std::string path = dir.file("no/such/dir/traces.db");
    CHECK(error_of<r1::UserError>([&] { TraceStore store(path); }).find(path) != std::string::npos);
  }
}

TEST_CASE("the stock sqlite3 shell reads sample_view") {
  if (!std::filesystem::exists("/usr/bin/sqlite3")) {
    MESSAGE("skipped: /usr/bin/sqlite3 is absent, so the shell cannot be checked");
    return;
  }
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceStore store(path);  // left open: the shell reads a live WAL database, as during training
  const int64_t run = store.begin_run("run", "");
  store.add_samples(run, make_records(137));
  const std::string quoted = "'" + path + "'";  // the temp path has no quote in it
  CHECK(shell_output("/usr/bin/sqlite3 " + quoted + " \"select count(*) from sample_view\"") == "137\n");

  const std::string line =
      shell_output("/usr/bin/sqlite3 " + quoted + " \"select id, step, reward, components from sample_view limit 5\"");
  CHECK(std::count(line.begin(), line.end(), '\n') == 5);
  const std::string components =
      shell_output("/usr/bin/sqlite3 " + quoted + " \"select components from sample_view where id = 1\"");
  const auto parsed = nlohmann::json::parse(components);
  CHECK(parsed.get<std::map<std::string, double>>() == make_record(0).components);
  CHECK(shell_output("/usr/bin/sqlite3 " + quoted + " \"pragma journal_mode\"") == "wal\n");
}
