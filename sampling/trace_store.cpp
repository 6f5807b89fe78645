// The SQLite trace store: schema v1, opening checks, inserts in one transaction, and the queries
// behind `r1 traces`. Values always travel as bound parameters (see sqlite_statement.h).
#include "sampling/trace_store.h"

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <utility>

#include "common/error.h"
#include "sampling/sqlite_statement.h"

namespace r1::sampling {
namespace {

// Schema v1. Changing a table means a new kSchemaVersion and a migration; older r1 binaries then
// refuse the file instead of misreading it.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE runs(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  config TEXT,
  created_at TEXT NOT NULL);
CREATE TABLE samples(
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  stage TEXT NOT NULL,
  step INTEGER NOT NULL,
  prompt_index INTEGER,
  sample_index INTEGER,
  prompt TEXT,
  completion TEXT,
  reference TEXT,
  reward REAL,
  outcome TEXT,
  reason TEXT,
  advantage REAL,
  num_tokens INTEGER,
  finish_reason TEXT,
  mean_logprob REAL,
  seed INTEGER,
  created_at TEXT NOT NULL);
CREATE TABLE sample_rewards(
  sample_id INTEGER NOT NULL REFERENCES samples(id),
  name TEXT NOT NULL,
  value REAL,
  PRIMARY KEY(sample_id, name));
CREATE TABLE step_metrics(
  run_id INTEGER REFERENCES runs(id),
  stage TEXT,
  step INTEGER,
  name TEXT,
  value REAL,
  PRIMARY KEY(run_id, stage, step, name));
CREATE INDEX samples_stage_step ON samples(stage, step);
CREATE INDEX samples_reward ON samples(reward);
-- One row per sample with its reward components as one JSON object, for the sqlite3 shell:
--   sqlite3 traces.db "select id, step, reward, components from sample_view limit 5"
-- A correlated subquery (not GROUP BY) so that LIMIT stops early on a large table.
CREATE VIEW sample_view AS
SELECT s.id, s.run_id, r.name AS run_name, s.stage, s.step, s.prompt_index, s.sample_index,
       s.prompt, s.completion, s.reference, s.reward,
       (SELECT json_group_object(c.name, c.value) FROM sample_rewards c WHERE c.sample_id = s.id)
         AS components,
       s.outcome, s.reason, s.advantage, s.num_tokens, s.finish_reason, s.mean_logprob, s.seed,
       s.created_at
FROM samples s JOIN runs r ON r.id = s.run_id;
)sql";

// The columns read into a TraceRow, in read_row's order.
constexpr const char* kRowColumns =
    "SELECT id, run_id, stage, step, prompt_index, sample_index, prompt, completion, reference, reward,"
    " outcome, reason, advantage, num_tokens, finish_reason, mean_logprob, seed, created_at FROM samples";

TraceRow read_row(const SqliteStatement& row) {
  TraceRow out;
  out.id = row.column_int64(0);
  out.run_id = row.column_int64(1);
  out.stage = row.column_text(2);
  out.step = row.column_int64(3);
  out.prompt_index = row.column_int64(4);
  out.sample_index = row.column_int64(5);
  out.prompt = row.column_text(6);
  out.completion = row.column_text(7);
  out.reference = row.column_text(8);
  out.reward = row.column_double(9);
  out.outcome = row.column_text(10);
  out.reason = row.column_text(11);
  out.advantage = row.column_double(12);
  out.num_tokens = row.column_int64(13);
  out.finish_reason = row.column_text(14);
  out.mean_logprob = row.column_double(15);
  out.seed = static_cast<uint64_t>(row.column_int64(16));  // stored as its int64 bit pattern
  out.created_at = row.column_text(17);
  return out;
}

void read_components(sqlite3* db, std::vector<TraceRow>& rows) {
  SqliteStatement query(db, "SELECT name, value FROM sample_rewards WHERE sample_id = ?");
  for (auto& row : rows) {
    query.bind(1, row.id);
    while (query.step()) row.components[query.column_text(0)] = query.column_double(1);
    query.reset();
  }
}

// ISO-8601 UTC with milliseconds: sorts as text, and SQLite's date functions read it.
std::string now_utc() {
  const auto now = std::chrono::system_clock::now();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char result[48];
  std::snprintf(result, sizeof result, "%.*s.%03dZ", static_cast<int>(length), text, static_cast<int>(millis));
  return result;
}

bool table_exists(sqlite3* db, const char* name) {
  SqliteStatement query(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
  query.bind(1, std::string_view(name));
  query.step();
  return query.column_int64(0) > 0;
}

int64_t user_object_count(sqlite3* db) {
  SqliteStatement query(db, "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'");
  query.step();
  return query.column_int64(0);
}

// The first read of the file is where SQLite notices it is not a database (open is lazy).
void probe_database(sqlite3* db, const std::string& path) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  const std::string message = sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
    R1_FAIL(path, ": not an SQLite database (", message, ")");
  R1_ASSERT(rc == SQLITE_ROW, path, ": cannot read: ", message);
}

void create_schema(sqlite3* db) {
  SqliteTransaction transaction(db);
  // Another process may have created it between our check and our write lock.
  if (table_exists(db, "meta")) return;
  sqlite_exec(db, kSchemaV1);
  SqliteStatement insert(db, "INSERT INTO meta(key, value) VALUES (?, ?)");
  insert.bind(1, std::string_view("schema_version")).bind(2, std::to_string(TraceStore::kSchemaVersion)).run();
  insert.bind(1, std::string_view("created_at")).bind(2, now_utc()).run();
  transaction.commit();
}

int read_schema_version(sqlite3* db, const std::string& path) {
  SqliteStatement query(db, "SELECT value FROM meta WHERE key = ?");
  query.bind(1, std::string_view("schema_version"));
  R1_CHECK(query.step(), path, ": not an r1 trace database (meta has no schema_version)");
  const std::string text = query.column_text(0);
  std::size_t used = 0;
  int version = 0;
  try {
    version = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  R1_CHECK(used == text.size() && version >= 1, path, ": not an r1 trace database (schema_version '", text, "')");
  return version;
}

}  // namespace

TraceStore::TraceStore(const std::string& path, bool read_only) : path_(path) {
  const int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    R1_FAIL(path, ": cannot open trace database (", message, ")");
  }
  // The destructor does not run when a constructor throws: close here on every failure below.
  try {
    sqlite3_extended_result_codes(db_, 0);  // plain codes, so SQLITE_NOTADB compares as such
    sqlite3_busy_timeout(db_, 5000);        // a second writer (r1 serve, a resumed run) waits, not fails
    probe_database(db_, path);
    sqlite_exec(db_, "PRAGMA foreign_keys = ON");
    if (!read_only) sqlite_exec(db_, "PRAGMA journal_mode = WAL");  // readers never block the writer
    if (!table_exists(db_, "meta")) {
      R1_CHECK(user_object_count(db_) == 0, path,
               ": an SQLite database, but not an r1 trace database (it has no meta table)");
      R1_CHECK(!read_only, path, ": empty database, no r1 traces in it");
      create_schema(db_);
    }
    const int version = read_schema_version(db_, path);
    R1_CHECK(version <= kSchemaVersion, path, ": trace schema version ", version,
             " is newer than this r1 reads (", kSchemaVersion, "); use a newer r1");
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

TraceStore::~TraceStore() { sqlite3_close_v2(db_); }

int64_t TraceStore::begin_run(const std::string& name, const std::string& config_yaml) {
  SqliteStatement insert(db_, "INSERT INTO runs(name, config, created_at) VALUES (?, ?, ?)");
  insert.bind(1, name).bind(2, config_yaml).bind(3, now_utc()).run();
  return sqlite3_last_insert_rowid(db_);
}

void TraceStore::add_samples(int64_t run_id, const std::vector<TraceRecord>& records) {
  const std::string created_at = now_utc();
  SqliteTransaction transaction(db_);
  SqliteStatement insert_sample(
      db_,
      "INSERT INTO samples(run_id, stage, step, prompt_index, sample_index, prompt, completion, reference,"
      " reward, outcome, reason, advantage, num_tokens, finish_reason, mean_logprob, seed, created_at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  SqliteStatement insert_component(db_, "INSERT INTO sample_rewards(sample_id, name, value) VALUES (?, ?, ?)");
  for (const auto& record : records) {
    insert_sample.bind(1, run_id)
        .bind(2, record.stage)
        .bind(3, record.step)
        .bind(4, record.prompt_index)
        .bind(5, record.sample_index)
        .bind(6, record.prompt)
        .bind(7, record.completion)
        .bind(8, record.reference)
        .bind(9, record.reward)
        .bind(10, record.outcome)
        .bind(11, record.reason)
        .bind(12, record.advantage)
        .bind(13, record.num_tokens)
        .bind(14, record.finish_reason)
        .bind(15, record.mean_logprob)
        .bind(16, static_cast<int64_t>(record.seed))  // SQLite integers are signed 64-bit
        .bind(17, created_at)
        .run();
    const int64_t sample_id = sqlite3_last_insert_rowid(db_);
    for (const auto& [name, value] : record.components)
      insert_component.bind(1, sample_id).bind(2, name).bind(3, value).run();
  }
  transaction.commit();
}

void TraceStore::add_step_metrics(int64_t run_id, const std::string& stage, int64_t step,
                                  const std::map<std::string, double>& metrics) {
  SqliteTransaction transaction(db_);
  // REPLACE: a resumed run that logs a step again overwrites it instead of failing.
  SqliteStatement insert(db_, "INSERT OR REPLACE INTO step_metrics(run_id, stage, step, name, value) VALUES (?, ?, ?, ?, ?)");
  for (const auto& [name, value] : metrics) insert.bind(1, run_id).bind(2, stage).bind(3, step).bind(4, name).bind(5, value).run();
  transaction.commit();
}

std::vector<TraceRow> TraceStore::list(const TraceFilter& filter) const {
  R1_CHECK(filter.offset >= 0, "trace filter: offset must be >= 0, got ", filter.offset);
  // Only fixed clause text is appended; every value is bound below in the same order.
  std::string sql = std::string(kRowColumns) + " WHERE 1";
  if (filter.run_id) sql += " AND run_id = ?";
  if (filter.stage) sql += " AND stage = ?";
  if (filter.min_step) sql += " AND step >= ?";
  if (filter.max_step) sql += " AND step <= ?";
  if (filter.min_reward) sql += " AND reward >= ?";
  if (filter.max_reward) sql += " AND reward <= ?";
  sql += " ORDER BY id LIMIT ? OFFSET ?";  // a negative limit means no limit, as in SQLite

  SqliteStatement query(db_, sql);
  int index = 0;
  if (filter.run_id) query.bind(++index, *filter.run_id);
  if (filter.stage) query.bind(++index, *filter.stage);
  if (filter.min_step) query.bind(++index, *filter.min_step);
  if (filter.max_step) query.bind(++index, *filter.max_step);
  if (filter.min_reward) query.bind(++index, *filter.min_reward);
  if (filter.max_reward) query.bind(++index, *filter.max_reward);
  query.bind(++index, filter.limit);
  query.bind(++index, filter.offset);

  std::vector<TraceRow> rows;
  while (query.step()) rows.push_back(read_row(query));
  read_components(db_, rows);
  return rows;
}

std::optional<TraceRow> TraceStore::get(int64_t id) const {
  SqliteStatement query(db_, std::string(kRowColumns) + " WHERE id = ?");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  std::vector<TraceRow> rows{read_row(query)};
  read_components(db_, rows);
  return std::move(rows.front());
}

std::vector<StepStats> TraceStore::stats(const std::optional<std::string>& stage) const {
  // Two grouped queries instead of one join: a sample's reward would otherwise be counted once
  // per component it has.
  const char* where = stage ? " WHERE stage = ?" : "";
  SqliteStatement totals(db_, std::string("SELECT stage, step, count(*), avg(reward), avg(num_tokens) FROM samples") +
                                  where + " GROUP BY stage, step ORDER BY stage, step");
  if (stage) totals.bind(1, *stage);
  std::vector<StepStats> result;
  std::map<std::pair<std::string, int64_t>, std::size_t> position;
  while (totals.step()) {
    StepStats row;
    row.stage = totals.column_text(0);
    row.step = totals.column_int64(1);
    row.count = totals.column_int64(2);
    row.mean_reward = totals.column_double(3);  // NaN when every reward was NaN (stored as NULL)
    row.mean_tokens = totals.column_double(4);
    position[{row.stage, row.step}] = result.size();
    result.push_back(std::move(row));
  }

  // A component's mean is over the samples that have that component.
  const char* where_joined = stage ? " WHERE s.stage = ?" : "";
  SqliteStatement components(
      db_, std::string("SELECT s.stage, s.step, c.name, avg(c.value) FROM sample_rewards c"
                       " JOIN samples s ON s.id = c.sample_id") +
               where_joined + " GROUP BY s.stage, s.step, c.name");
  if (stage) components.bind(1, *stage);
  while (components.step()) {
    const auto found = position.find({components.column_text(0), components.column_int64(1)});
    R1_ASSERT(found != position.end(), "component stats for a step without samples");
    result[found->second].mean_components[components.column_text(2)] = components.column_double(3);
  }
  return result;
}

int64_t TraceStore::count() const {
  SqliteStatement query(db_, "SELECT count(*) FROM samples");
  query.step();
  return query.column_int64(0);
}

}  // namespace r1::sampling
