// Trace store schema v2 and the v1 -> v2 migration. Every change to a table is a new version here
// with a migration step; an r1 older than the file refuses it instead of misreading it.
#include "sampling/trace_schema.h"

#include <sqlite3.h>

#include <string>

#include "common/error.h"
#include "sampling/sqlite_statement.h"
#include "sampling/trace_store.h"

namespace r1::sampling::schema {
namespace {

// Tables, indices, full-text index and view of v2. README.md ("The trace store") documents them.
//
// Design notes:
// - samples carries step_id and prompt_id; steps carry the stage, stages the run. A prompt's text is
//   stored once however many samples and steps it has.
// - Reward components are one JSON object per sample (json_extract(components, '$.accuracy') in
//   the shell) instead of a row per component: a third of the rows to write, and a sample's
//   components are always read together.
// - The reasoning and the answer are byte ranges into the completion (the view cuts them out), not
//   copies: the text is stored once.
// - Full-text search lives in a second file beside the store (trace_index.h), written by its own
//   thread, so indexing runs beside the inserts instead of after them.
// - Sample ids are AUTOINCREMENT: never reused after a resumed stage deletes its tail, so an index
//   entry can only ever point at its own sample (or at none).
constexpr const char* kTables = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  config TEXT,
  created_at TEXT NOT NULL);
CREATE TABLE stages(
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  name TEXT NOT NULL,
  started_at TEXT NOT NULL,
  UNIQUE(run_id, name));
CREATE TABLE steps(
  id INTEGER PRIMARY KEY,
  stage_id INTEGER NOT NULL REFERENCES stages(id),
  step INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  first_sample_id INTEGER,
  last_sample_id INTEGER,
  UNIQUE(stage_id, step));
CREATE TABLE prompts(
  id INTEGER PRIMARY KEY,
  stage_id INTEGER NOT NULL REFERENCES stages(id),
  prompt_index INTEGER NOT NULL,
  prompt TEXT,
  reference TEXT,
  UNIQUE(stage_id, prompt_index));
CREATE TABLE samples(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  step_id INTEGER NOT NULL REFERENCES steps(id),
  prompt_id INTEGER NOT NULL REFERENCES prompts(id),
  sample_index INTEGER NOT NULL,
  completion TEXT,
  reasoning_begin INTEGER,
  reasoning_end INTEGER,
  answer_begin INTEGER,
  answer_end INTEGER,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  finish_reason TEXT,
  reward REAL,
  components TEXT,
  outcome TEXT,
  reason TEXT,
  advantage REAL,
  accepted INTEGER,
  rejection_reason TEXT,
  language_share REAL,
  logprob_mean REAL,
  logprob_min REAL,
  seed INTEGER,
  created_at TEXT NOT NULL);
CREATE TABLE step_metrics(
  step_id INTEGER NOT NULL REFERENCES steps(id),
  name TEXT NOT NULL,
  value REAL,
  PRIMARY KEY(step_id, name)) WITHOUT ROWID;
)sql";

constexpr const char* kIndices = R"sql(
CREATE UNIQUE INDEX samples_key ON samples(step_id, prompt_id, sample_index);
CREATE INDEX samples_reward ON samples(reward);
-- One row per sample with everything joined, for the sqlite3 shell:
--   sqlite3 traces.db "select id, stage, step, reward, components from sample_view limit 5"
CREATE VIEW sample_view AS
SELECT s.id, r.id AS run_id, r.name AS run_name, g.name AS stage, t.step, p.prompt_index,
       s.sample_index, p.prompt, p.reference, s.completion,
       CAST(substr(CAST(s.completion AS BLOB), s.reasoning_begin + 1, s.reasoning_end - s.reasoning_begin) AS TEXT)
         AS reasoning,
       CAST(substr(CAST(s.completion AS BLOB), s.answer_begin + 1, s.answer_end - s.answer_begin) AS TEXT)
         AS answer,
       s.prompt_tokens, s.completion_tokens, s.finish_reason, s.reward, s.components,
       s.outcome, s.reason, s.advantage, s.accepted, s.rejection_reason, s.language_share,
       s.logprob_mean, s.logprob_min, s.seed, s.created_at
FROM samples s
JOIN steps t ON t.id = s.step_id
JOIN stages g ON g.id = t.stage_id
JOIN runs r ON r.id = g.run_id
JOIN prompts p ON p.id = s.prompt_id;
CREATE VIEW step_metric_view AS
SELECT r.id AS run_id, r.name AS run_name, g.name AS stage, t.step, m.name, m.value
FROM step_metrics m
JOIN steps t ON t.id = m.step_id
JOIN stages g ON g.id = t.stage_id
JOIN runs r ON r.id = g.run_id;
)sql";

void set_version(sqlite3* db, int version) {
  SqliteStatement upsert(db, "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)");
  upsert.bind(1, std::to_string(version)).run();
}

// v1 kept stage and step on every sample, the prompt on every sample, and one sample_rewards row
// per component; it had no reasoning/answer split, no verdict, no language share.
void migrate_v1_to_v2(sqlite3* db) {
  sqlite_exec(db, R"sql(
DROP VIEW IF EXISTS sample_view;
DROP INDEX IF EXISTS samples_stage_step;
DROP INDEX IF EXISTS samples_reward;
ALTER TABLE samples RENAME TO samples_v1;
ALTER TABLE step_metrics RENAME TO step_metrics_v1;
)sql");
  sqlite_exec(db, kTables);
  sqlite_exec(db, R"sql(
INSERT INTO stages(run_id, name, started_at)
  SELECT run_id, stage, min(created_at) FROM samples_v1 GROUP BY run_id, stage ORDER BY min(id);
INSERT OR IGNORE INTO stages(run_id, name, started_at)
  SELECT m.run_id, m.stage, r.created_at FROM step_metrics_v1 m JOIN runs r ON r.id = m.run_id
  GROUP BY m.run_id, m.stage;
INSERT INTO steps(stage_id, step, created_at)
  SELECT g.id, s.step, min(s.created_at) FROM samples_v1 s
  JOIN stages g ON g.run_id = s.run_id AND g.name = s.stage GROUP BY g.id, s.step;
INSERT OR IGNORE INTO steps(stage_id, step, created_at)
  SELECT g.id, m.step, g.started_at FROM step_metrics_v1 m
  JOIN stages g ON g.run_id = m.run_id AND g.name = m.stage GROUP BY g.id, m.step;
INSERT OR IGNORE INTO prompts(stage_id, prompt_index, prompt, reference)
  SELECT g.id, s.prompt_index, s.prompt, s.reference FROM samples_v1 s
  JOIN stages g ON g.run_id = s.run_id AND g.name = s.stage ORDER BY s.id;
INSERT INTO samples(id, step_id, prompt_id, sample_index, completion, completion_tokens,
                    finish_reason, reward, components, outcome, reason, advantage,
                    logprob_mean, seed, created_at)
  SELECT s.id, t.id, p.id, s.sample_index, s.completion, s.num_tokens, s.finish_reason, s.reward,
         (SELECT json_group_object(c.name, c.value) FROM sample_rewards c WHERE c.sample_id = s.id),
         s.outcome, s.reason, s.advantage, s.mean_logprob, s.seed, s.created_at
  FROM samples_v1 s
  JOIN stages g ON g.run_id = s.run_id AND g.name = s.stage
  JOIN steps t ON t.stage_id = g.id AND t.step = s.step
  JOIN prompts p ON p.stage_id = g.id AND p.prompt_index = s.prompt_index
  ORDER BY s.id;
INSERT INTO step_metrics(step_id, name, value)
  SELECT t.id, m.name, m.value FROM step_metrics_v1 m
  JOIN stages g ON g.run_id = m.run_id AND g.name = m.stage
  JOIN steps t ON t.stage_id = g.id AND t.step = m.step;
DROP TABLE sample_rewards;
DROP TABLE samples_v1;
DROP TABLE step_metrics_v1;
)sql");
  sqlite_exec(db, kIndices);
  sqlite_exec(db, "UPDATE steps SET first_sample_id = (SELECT min(id) FROM samples WHERE step_id = steps.id),"
                  " last_sample_id = (SELECT max(id) FROM samples WHERE step_id = steps.id)");

  // The reasoning/answer ranges come from C++ (the same function new samples go through).
  SqliteStatement read(db, "SELECT id, completion FROM samples");
  SqliteStatement update(
      db, "UPDATE samples SET reasoning_begin = ?, reasoning_end = ?, answer_begin = ?, answer_end = ? WHERE id = ?");
  while (read.step()) {
    const auto parts = split_completion(read.column_text(1));
    update.bind(1, int64_t(parts.reasoning_begin)).bind(2, int64_t(parts.reasoning_end))
        .bind(3, int64_t(parts.answer_begin)).bind(4, int64_t(parts.answer_end)).bind(5, read.column_int64(0)).run();
  }
}

}  // namespace

void create(sqlite3* db) {
  sqlite_exec(db, kTables);
  sqlite_exec(db, kIndices);
  set_version(db, kCurrentVersion);
}

int read_version(sqlite3* db, const std::string& path) {
  SqliteStatement query(db, "SELECT value FROM meta WHERE key = 'schema_version'");
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

void migrate(sqlite3* db, int version) {
  R1_ASSERT(version >= 1 && version <= kCurrentVersion, "no migration from schema version ", version);
  if (version == 1) {
    migrate_v1_to_v2(db);
    version = 2;
  }
  set_version(db, version);
}

}  // namespace r1::sampling::schema
