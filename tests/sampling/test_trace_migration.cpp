// Tests for the v1 -> v2 trace schema migration, on a real v1 file: the fixture is a `.dump` of a
// database written by the previous r1 (12 samples in 2 steps of stage "zero", 49 step metrics).
// Every value read from the v1 tables before the migration must come back through TraceStore.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>

#include "common/error.h"
#include "sampling/trace_store.h"
#include "tests/sampling/temp_dir.h"
#include "tests/sampling/trace_test_util.h"

using namespace r1::sampling;
using namespace r1::sampling::testing;

namespace {

const std::string kFixture = std::string(R1_SOURCE_DIR) + "/tests/fixtures/sampling/traces_v1.sql";

// A v1 trace database at `path`, made by running the fixture's SQL through the C API.
void make_v1(const std::string& path) {
  std::ifstream in(kFixture, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing fixture ", kFixture);
  std::stringstream sql;
  sql << in.rdbuf();
  raw_sql(path, sql.str());
}

// One v1 sample, read with raw SQL before the migration.
struct V1Sample {
  int64_t id = 0, run_id = 0, step = 0, prompt_index = 0, sample_index = 0, num_tokens = 0, seed = 0;
  std::string stage, prompt, completion, reference, outcome, reason, finish_reason, created_at;
  double reward = 0, advantage = 0, mean_logprob = 0;
  std::map<std::string, double> components;
};

struct V1Data {
  std::vector<V1Sample> samples;
  std::map<std::tuple<std::string, int64_t, std::string>, double> metrics;  // (stage, step, name) -> value
  std::string run_name, run_config, run_created_at;
};

double real_or_nan(sqlite3_stmt* stmt, int column) {
  return sqlite3_column_type(stmt, column) == SQLITE_NULL ? std::nan("") : sqlite3_column_double(stmt, column);
}

std::string text(sqlite3_stmt* stmt, int column) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
  return p ? std::string(p, std::size_t(sqlite3_column_bytes(stmt, column))) : std::string();
}

V1Data read_v1(const std::string& path) {
  V1Data data;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT id, run_id, stage, step, prompt_index, sample_index, prompt, completion, reference,"
                             " reward, outcome, reason, advantage, num_tokens, finish_reason, mean_logprob, seed,"
                             " created_at FROM samples ORDER BY id",
                             -1, &stmt, nullptr) == SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    V1Sample s;
    s.id = sqlite3_column_int64(stmt, 0);
    s.run_id = sqlite3_column_int64(stmt, 1);
    s.stage = text(stmt, 2);
    s.step = sqlite3_column_int64(stmt, 3);
    s.prompt_index = sqlite3_column_int64(stmt, 4);
    s.sample_index = sqlite3_column_int64(stmt, 5);
    s.prompt = text(stmt, 6);
    s.completion = text(stmt, 7);
    s.reference = text(stmt, 8);
    s.reward = real_or_nan(stmt, 9);
    s.outcome = text(stmt, 10);
    s.reason = text(stmt, 11);
    s.advantage = real_or_nan(stmt, 12);
    s.num_tokens = sqlite3_column_int64(stmt, 13);
    s.finish_reason = text(stmt, 14);
    s.mean_logprob = real_or_nan(stmt, 15);
    s.seed = sqlite3_column_int64(stmt, 16);
    s.created_at = text(stmt, 17);
    data.samples.push_back(s);
  }
  sqlite3_finalize(stmt);
  REQUIRE(sqlite3_prepare_v2(db, "SELECT sample_id, name, value FROM sample_rewards", -1, &stmt, nullptr) == SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const int64_t id = sqlite3_column_int64(stmt, 0);
    for (auto& s : data.samples)
      if (s.id == id) s.components[text(stmt, 1)] = real_or_nan(stmt, 2);
  }
  sqlite3_finalize(stmt);
  REQUIRE(sqlite3_prepare_v2(db, "SELECT stage, step, name, value FROM step_metrics", -1, &stmt, nullptr) == SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW)
    data.metrics[{text(stmt, 0), sqlite3_column_int64(stmt, 1), text(stmt, 2)}] = real_or_nan(stmt, 3);
  sqlite3_finalize(stmt);
  REQUIRE(sqlite3_prepare_v2(db, "SELECT name, config, created_at FROM runs", -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  data.run_name = text(stmt, 0);
  data.run_config = text(stmt, 1);
  data.run_created_at = text(stmt, 2);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return data;
}

// Everything of a file that a migration may change: schema objects, meta, and each table's rows.
std::vector<std::string> logical_content(const std::string& path) {
  std::vector<std::string> out = raw_rows(path, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name");
  for (const auto& table : raw_rows(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")) {
    const auto rows = raw_rows(path, "SELECT * FROM \"" + table + "\"");
    out.push_back(table + ": " + std::to_string(rows.size()) + " rows");
    out.insert(out.end(), rows.begin(), rows.end());
  }
  return out;
}

void check_migrated(const TraceStore& store, const V1Data& v1) {
  CHECK(store.schema_version() == 2);
  CHECK(store.count() == 12);
  REQUIRE(v1.samples.size() == 12);
  for (const auto& want : v1.samples) {
    CAPTURE(want.id);
    const auto got = store.get(want.id);
    REQUIRE(got.has_value());
    CHECK(got->id == want.id);
    CHECK(got->run_id == want.run_id);
    CHECK(got->run_name == v1.run_name);
    CHECK(got->stage == want.stage);
    CHECK(got->step == want.step);
    CHECK(got->prompt_index == want.prompt_index);
    CHECK(got->sample_index == want.sample_index);
    CHECK(got->prompt == want.prompt);
    CHECK(got->completion == want.completion);
    CHECK(got->reference == want.reference);
    CHECK(same(got->reward, want.reward));
    CHECK_MESSAGE(same(got->components, want.components), describe(got->components), " vs ", describe(want.components));
    CHECK(got->outcome == want.outcome);
    CHECK(got->reason == want.reason);
    CHECK(same(got->advantage, want.advantage));
    CHECK(got->completion_tokens == want.num_tokens);
    CHECK(got->finish_reason == want.finish_reason);
    CHECK(same(got->logprob_mean, want.mean_logprob));
    CHECK(got->seed == static_cast<uint64_t>(want.seed));
    CHECK(got->created_at == want.created_at);
    // Filled by the same split new samples go through.
    std::string reasoning, answer;
    split_reasoning(want.completion, reasoning, answer);
    CHECK(got->reasoning == reasoning);
    CHECK(got->answer == answer);
    // What v1 did not record is unknown, not made up.
    CHECK(got->prompt_tokens == 0);
    CHECK_FALSE(got->accepted.has_value());
    CHECK(got->rejection_reason.empty());
    CHECK(std::isnan(got->language_share));
    CHECK(std::isnan(got->logprob_min));
  }
  TraceFilter all;
  all.limit = -1;
  std::vector<int64_t> ids;
  for (const auto& row : store.list(all)) ids.push_back(row.id);
  CHECK(ids == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});

  // Step metrics: every (stage, step, name) with its value.
  std::map<std::tuple<std::string, int64_t, std::string>, double> metrics;
  std::size_t rows = 0;
  for (const auto& step : store.step_metrics()) {
    ++rows;
    for (const auto& [name, value] : step.values) metrics[{step.stage, step.step, name}] = value;
  }
  CHECK(v1.metrics.size() == 49);
  CHECK(metrics.size() == v1.metrics.size());
  for (const auto& [key, value] : v1.metrics) {
    CAPTURE(std::get<0>(key));
    CAPTURE(std::get<1>(key));
    CAPTURE(std::get<2>(key));
    REQUIRE(metrics.count(key) == 1);
    CHECK(same(metrics.at(key), value));
  }
  CHECK(rows == 5);  // pretrain 10, 20; zero 0, 1, 2

  const auto runs = store.runs();
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].id == 1);
  CHECK(runs[0].name == v1.run_name);
  CHECK(runs[0].created_at == v1.run_created_at);
  CHECK(std::set<std::string>(runs[0].stages.begin(), runs[0].stages.end()) == std::set<std::string>{"pretrain", "zero"});
  const auto names = store.stage_names();
  CHECK(std::set<std::string>(names.begin(), names.end()) == std::set<std::string>{"pretrain", "zero"});
  CHECK(store.last_step(1, "zero") == 2);
  CHECK(store.last_step(1, "pretrain") == 20);

  // Stats over the migrated rows.
  const auto stats = store.stats("zero");
  REQUIRE(stats.size() == 2);
  CHECK(stats[0].step == 1);
  CHECK(stats[0].count == 6);
  CHECK(stats[1].step == 2);
  CHECK(stats[1].count == 6);
  CHECK(stats[0].pass_rate == 0.0);
  CHECK(stats[0].mean_components == std::map<std::string, double>{{"accuracy", 0.0}, {"format", 0.0}});

  // Full-text search over the migrated completions (only the completion is indexed).
  std::vector<int64_t> want_think;
  for (auto it = v1.samples.rbegin(); it != v1.samples.rend(); ++it)
    if (it->completion.find("think") != std::string::npos) want_think.push_back(it->id);
  REQUIRE(want_think.size() >= 3);
  std::vector<int64_t> think;
  for (const auto& row : store.search("think", all)) think.push_back(row.id);
  CHECK(think == want_think);
  CHECK(store.search("apples", all).empty());
  const auto one = store.search("f3V", all);
  REQUIRE(one.size() == 1);
  CHECK(one[0].id == 2);
  CHECK(one[0].snippet.find("[f3V]") != std::string::npos);
}

}  // namespace

TEST_CASE("a v1 file written by the previous r1 migrates to v2 with every value kept") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  make_v1(path);
  const V1Data v1 = read_v1(path);
  REQUIRE(v1.samples.size() == 12);
  CHECK(raw_rows(path, "SELECT value FROM meta WHERE key = 'schema_version'") == std::vector<std::string>{"1"});

  std::unique_ptr<TraceStore> store;
  const std::string notice = capture_stderr([&] { store = std::make_unique<TraceStore>(path); });
  CHECK(notice.find("migrating trace schema 1 -> 2") != std::string::npos);
  CHECK(notice.find(path) != std::string::npos);
  check_migrated(*store, v1);

  // The v1 tables are gone; the v2 views work and the full-text index is sound.
  const auto tables = raw_rows(path, "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name");
  const std::set<std::string> names(tables.begin(), tables.end());
  CHECK(names.count("sample_rewards") == 0);
  CHECK(names.count("samples_v1") == 0);
  CHECK(names.count("step_metrics_v1") == 0);
  CHECK(names.count("sample_view") == 1);
  CHECK(names.count("step_metric_view") == 1);
  CHECK(raw_count(path, "SELECT count(*) FROM sample_view WHERE reasoning IS NOT NULL") == 12);
  CHECK(raw_count(path, "SELECT count(*) FROM step_metric_view") == 49);
  CHECK(raw_count(path, "SELECT count(*) FROM prompts") == 4);  // 4 prompts, 3 samples each
  CHECK(raw_rows(path, "SELECT config FROM runs") == std::vector<std::string>{v1.run_config});
  raw_sql(path + ".fts", "INSERT INTO samples_fts(samples_fts) VALUES ('integrity-check')");
  CHECK(raw_rows(path, "PRAGMA foreign_key_check").empty());
  CHECK(raw_rows(path, "PRAGMA integrity_check") == std::vector<std::string>{"ok"});

  // A resumed run goes on writing into the migrated file.
  CHECK(store->begin_run(v1.run_name, "") == 1);
  TraceRecord next;
  next.stage = "zero";
  next.step = 3;
  next.prompt_index = 1184;  // a migrated prompt
  next.prompt = "ignored: the prompt is stored";
  next.completion = "<think>new</think><answer>4</answer>";
  store->add_samples(1, {next});
  const auto row = store->get(13);
  REQUIRE(row.has_value());
  CHECK(row->prompt == v1.samples[0].prompt);
  CHECK(row->answer == "4");
  CHECK(store->last_step(1, "zero") == 3);
  // ... and the migrated key is still unique.
  TraceRecord again = next;
  again.step = 1;
  again.sample_index = 0;
  CHECK(error_of<r1::UserError>([&] { store->add_samples(1, {again}); }).find("already stored") != std::string::npos);
}

TEST_CASE("a migrated file is not migrated again") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  make_v1(path);
  const V1Data v1 = read_v1(path);
  capture_stderr([&] { TraceStore store(path); });
  // A mark a second migration would overwrite (it recomputes the reasoning range; sample 1,
  // 'n</answer>', has no reasoning).
  raw_sql(path, "UPDATE samples SET reasoning_begin = 0, reasoning_end = 1 WHERE id = 1");
  for (bool read_only : {false, true}) {
    CAPTURE(read_only);
    std::unique_ptr<TraceStore> store;
    const std::string notice = capture_stderr([&] { store = std::make_unique<TraceStore>(path, read_only); });
    CHECK(notice.find("migrating") == std::string::npos);
    CHECK(store->schema_version() == 2);
    CHECK(store->get(1)->reasoning == "n");
    CHECK(store->count() == 12);
  }
}

TEST_CASE("a read-only open of a v1 file migrates it through a short read-write connection, then reads") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  make_v1(path);
  const V1Data v1 = read_v1(path);
  std::unique_ptr<TraceStore> store;
  const std::string notice = capture_stderr([&] { store = std::make_unique<TraceStore>(path, true); });
  CHECK(notice.find("migrating trace schema 1 -> 2") != std::string::npos);
  check_migrated(*store, v1);
  CHECK_THROWS_AS(store->begin_run("new", ""), r1::InternalError);  // still a read-only connection
  CHECK(raw_rows(path, "SELECT value FROM meta WHERE key = 'schema_version'") == std::vector<std::string>{"2"});
}

TEST_CASE("a v1 file that cannot be written gives a clear error") {
  TempDir dir;
  const std::string folder = dir.file("locked");
  std::filesystem::create_directories(folder);
  const std::string path = folder + "/traces.db";
  make_v1(path);
  REQUIRE(chmod(path.c_str(), 0444) == 0);
  REQUIRE(chmod(folder.c_str(), 0555) == 0);
  // Root (as in many containers) writes whatever the mode bits say: nothing to test there.
  const bool writable = access(path.c_str(), W_OK) == 0 || access(folder.c_str(), W_OK) == 0;
  if (writable) {
    MESSAGE("skipped: running as root, chmod does not stop writes, so a read-only v1 file cannot be made");
  } else {
    const std::string before = file_bytes(path);
    for (bool read_only : {true, false}) {
      CAPTURE(read_only);
      std::string error = "(no error)";
      try {
        TraceStore store(path, read_only);
      } catch (const std::exception& e) {
        error = e.what();
      }
      CAPTURE(error);
      CHECK(error.find(path) != std::string::npos);
      CHECK((error.find("read-only") != std::string::npos || error.find("readonly") != std::string::npos));
      CHECK_THROWS_AS(TraceStore(path, read_only), r1::UserError);
    }
    CHECK(file_bytes(path) == before);
  }
  chmod(folder.c_str(), 0755);  // so the temp dir can be removed
  chmod(path.c_str(), 0644);
}

TEST_CASE("a failed migration leaves the v1 file as it was") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  make_v1(path);

  SUBCASE("the samples table lacks a column") {
    raw_sql(path, "DROP VIEW sample_view; ALTER TABLE samples DROP COLUMN seed;");
  }
  SUBCASE("the sample_rewards table is missing") {
    // Fails after the tables were renamed and the new ones created: all of it must roll back.
    raw_sql(path, "DROP TABLE sample_rewards");
  }

  const auto before = logical_content(path);
  REQUIRE(before.size() > 20);
  for (bool read_only : {false, true}) {
    CAPTURE(read_only);
    std::string error = "(no error)";
    capture_stderr([&] {
      try {
        TraceStore store(path, read_only);
      } catch (const std::exception& e) {
        error = e.what();
      }
    });
    CHECK(error != "(no error)");
    CHECK(logical_content(path) == before);
    CHECK(raw_rows(path, "SELECT value FROM meta WHERE key = 'schema_version'") == std::vector<std::string>{"1"});
  }
}

TEST_CASE("a current file in a read-only directory opens read-only and reads") {
  // `r1 traces` on an archived run: the file and its directory cannot be written.
  TempDir dir;
  const std::string folder = dir.file("archive");
  std::filesystem::create_directories(folder);
  const std::string path = folder + "/traces.db";
  {
    TraceStore store(path);
    const int64_t run = store.begin_run("run", "");
    TraceRecord r;
    r.stage = "zero";
    r.completion = "archived words";
    store.add_samples(run, {r});
  }
  REQUIRE(chmod(path.c_str(), 0444) == 0);
  REQUIRE(chmod(folder.c_str(), 0555) == 0);
  if (access(path.c_str(), W_OK) == 0 || access(folder.c_str(), W_OK) == 0) {
    MESSAGE("skipped: running as root, chmod does not stop writes, so a read-only directory cannot be made");
  } else {
    std::string error;
    try {
      TraceStore store(path, true);
      CHECK(store.count() == 1);
      CHECK(store.search("archived", {}).size() == 1);
    } catch (const std::exception& e) {
      error = e.what();
    }
    CHECK_MESSAGE(error.empty(), error);
  }
  chmod(folder.c_str(), 0755);
  chmod(path.c_str(), 0644);
}
