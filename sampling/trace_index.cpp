// The full-text index file: schema, attach, and the catch-up step an indexing thread repeats.
#include "sampling/trace_index.h"

#include <sqlite3.h>

#include <filesystem>

#include "common/error.h"
#include "sampling/sqlite_statement.h"

namespace r1::sampling::trace_index {
namespace {

// Contentless (content=''): the text stays in the store; the index keeps only terms and rowids.
// columnsize=0: no per-row size table (matches are ordered by id, never by bm25 rank).
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS fts.meta(key TEXT PRIMARY KEY, value);
INSERT OR IGNORE INTO fts.meta(key, value) VALUES ('indexed_upto', 0);
CREATE VIRTUAL TABLE IF NOT EXISTS fts.samples_fts USING fts5(completion, content='', columnsize=0);
)sql";

}  // namespace

std::string path_for(const std::string& store_path) { return store_path + ".fts"; }

bool attach(sqlite3* db, const std::string& store_path, bool create) {
  const std::string path = path_for(store_path);
  if (!create && !std::filesystem::exists(path)) return false;
  SqliteStatement statement(db, "ATTACH DATABASE ? AS fts");
  statement.bind(1, path).run();
  // The index belongs to the store with the same created_at: an index left beside a store that was
  // deleted and made again would point its ids at the wrong samples.
  const auto belongs = [&] {
    SqliteStatement same(db, "SELECT (SELECT value FROM main.meta WHERE key = 'created_at') IS"
                             " (SELECT value FROM fts.meta WHERE key = 'store_created_at')");
    same.step();
    return same.column_int64(0) == 1;
  };
  if (!create) {
    const bool ours = [&] {
      SqliteStatement has(db, "SELECT count(*) FROM fts.sqlite_master WHERE name = 'samples_fts'");
      has.step();
      return has.column_int64(0) == 1;
    }() && belongs();
    if (!ours) sqlite_exec(db, "DETACH DATABASE fts");
    return ours;
  }
  sqlite_exec(db, "PRAGMA fts.journal_mode = WAL");  // searches never wait for the indexer
  sqlite_exec(db, "PRAGMA fts.synchronous = NORMAL");
  SqliteTransaction transaction(db, SqliteTransaction::Kind::read);
  sqlite_exec(db, kSchema);
  if (!belongs()) {
    sqlite_exec(db, "INSERT INTO fts.samples_fts(samples_fts) VALUES ('delete-all')");
    sqlite_exec(db, "UPDATE fts.meta SET value = 0 WHERE key = 'indexed_upto'");
    sqlite_exec(db, "INSERT OR REPLACE INTO fts.meta(key, value)"
                    " SELECT 'store_created_at', value FROM main.meta WHERE key = 'created_at'");
  }
  transaction.commit();
  return true;
}

int64_t index_pending(sqlite3* db, int64_t max_rows) {
  // The index's write lock (and nothing of the store's), so two indexers of one file cannot both
  // index the same rows, and the trace writer is never held up.
  auto transaction = SqliteTransaction::writing_only(db, "fts.meta");
  SqliteStatement upto(db, "SELECT value FROM fts.meta WHERE key = 'indexed_upto'");
  R1_ASSERT(upto.step(), "full-text index without indexed_upto");
  const int64_t from = upto.column_int64(0);
  upto.reset();
  SqliteStatement last(db, "SELECT count(*), max(id) FROM (SELECT id FROM main.samples WHERE id > ? ORDER BY id LIMIT ?)");
  last.bind(1, from).bind(2, max_rows);
  last.step();
  const int64_t rows = last.column_int64(0);
  if (rows == 0) {
    last.reset();
    return 0;  // the transaction rolls back: nothing was written
  }
  const int64_t to = last.column_int64(1);
  last.reset();
  // One statement for the whole batch: FTS5 flushes its pending terms once per statement.
  SqliteStatement insert(db, "INSERT INTO fts.samples_fts(rowid, completion)"
                             " SELECT id, completion FROM main.samples WHERE id > ? AND id <= ?");
  insert.bind(1, from).bind(2, to).run();
  SqliteStatement advance(db, "UPDATE fts.meta SET value = ? WHERE key = 'indexed_upto'");
  advance.bind(1, to).run();
  transaction.commit();
  return rows;
}

int64_t rebuild(sqlite3* db) {
  {
    SqliteTransaction transaction(db, SqliteTransaction::Kind::read);
    sqlite_exec(db, "UPDATE fts.meta SET value = 0 WHERE key = 'indexed_upto'");
    sqlite_exec(db, "INSERT INTO fts.samples_fts(samples_fts) VALUES ('delete-all')");
    transaction.commit();
  }
  int64_t total = 0;
  for (int64_t done = 1; done > 0; total += done) done = index_pending(db, 100000);
  return total;
}

int64_t pending(sqlite3* db) {
  SqliteStatement query(db, "SELECT count(*) FROM main.samples WHERE id > (SELECT value FROM fts.meta"
                            " WHERE key = 'indexed_upto')");
  query.step();
  return query.column_int64(0);
}

}  // namespace r1::sampling::trace_index
