// RAII over the SQLite C API: a prepared statement with typed binds and column reads, and a
// transaction guard. Knows nothing of the trace schema; failures are r1::InternalError.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace r1::sampling {

// One prepared statement. Values always go in through bind(); SQL text is never built from them.
class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, std::string_view sql);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;

  // Parameters are numbered from 1, as in SQLite.
  SqliteStatement& bind(int index, int64_t value);
  SqliteStatement& bind(int index, double value);  // NaN is stored as NULL (SQLite has no NaN)
  SqliteStatement& bind(int index, std::string_view value);
  SqliteStatement& bind_null(int index);

  // Advances; true while a row is available, false when done.
  bool step();
  // Runs a statement that returns no rows, then resets it for the next binds.
  void run();
  // Clears the result and the bindings so the statement can be run again.
  void reset();

  // Columns are numbered from 0, as in SQLite.
  bool is_null(int column) const;
  int64_t column_int64(int column) const;
  double column_double(int column) const;  // NULL reads as NaN: the value bind() could not store
  std::string column_text(int column) const;  // byte-exact, NULL reads as ""

 private:
  [[noreturn]] void fail(const char* what, int rc) const;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// Runs SQL that takes no values (PRAGMAs, DDL, BEGIN/COMMIT).
void sqlite_exec(sqlite3* db, const char* sql);

// Kind::write: BEGIN IMMEDIATE on construction (take the write lock up front, so a concurrent
// writer waits on busy_timeout instead of failing mid-transaction). Kind::read: BEGIN DEFERRED, for
// several queries that must see one snapshot (WAL: while a writer commits). ROLLBACK unless commit()
// was called.
//
// BEGIN IMMEDIATE locks every ATTACHed file too. Where two threads write two attached files apart
// (the trace writer the store, the indexer the full-text index), each must lock only its own, or
// each waits on the other's whole transaction: writing_only("main.meta") begins DEFERRED and takes
// the write lock of the file holding that table alone (by a write statement that changes no row).
class SqliteTransaction {
 public:
  enum class Kind { write, read };
  explicit SqliteTransaction(sqlite3* db, Kind kind = Kind::write);
  static SqliteTransaction writing_only(sqlite3* db, const std::string& schema_table);
  ~SqliteTransaction();
  SqliteTransaction(SqliteTransaction&& other) noexcept : db_(other.db_), open_(std::exchange(other.open_, false)) {}
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;
  void commit();

 private:
  sqlite3* db_;
  bool open_ = true;
};

}  // namespace r1::sampling
