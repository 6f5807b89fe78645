// RAII over the SQLite C API: prepared statements, binds, column reads, transactions.
#include "sampling/sqlite_statement.h"

#include <sqlite3.h>

#include <cmath>
#include <limits>
#include <utility>

#include "common/error.h"

namespace r1::sampling {

SqliteStatement::SqliteStatement(sqlite3* db, std::string_view sql) : db_(db) {
  R1_ASSERT(db_ != nullptr, "no database connection");
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  R1_ASSERT(rc == SQLITE_OK, "cannot prepare `", sql, "`: ", sqlite3_errmsg(db_));
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }  // finalize(nullptr) is a no-op

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

void SqliteStatement::fail(const char* what, int rc) const {
  // A runtime failure of SQLite (disk full, constraint, lock timeout) is not the user's input to fix.
  const char* sql = sqlite3_sql(stmt_);
  throw InternalError(detail::concat(detail::short_path(__FILE__), ":", __LINE__, ": SQLite ", what,
                                     " failed (", sqlite3_errstr(rc), "): ", sqlite3_errmsg(db_),
                                     " in `", sql ? sql : "", "`"));
}

SqliteStatement& SqliteStatement::bind(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) fail("bind", rc);
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, double value) {
  // SQLite stores NaN as NULL anyway; saying so explicitly keeps the read side symmetric.
  const int rc = std::isnan(value) ? sqlite3_bind_null(stmt_, index) : sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) fail("bind", rc);
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, std::string_view value) {
  // SQLITE_TRANSIENT: SQLite copies the bytes, so the caller's string may die before step().
  // An explicit length keeps the text byte-exact (no strlen on the caller's data).
  const int rc = sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) fail("bind", rc);
  return *this;
}

SqliteStatement& SqliteStatement::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) fail("bind", rc);
  return *this;
}

bool SqliteStatement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail("step", rc);
}

void SqliteStatement::run() {
  try {
    while (step()) {
    }
  } catch (...) {
    reset();  // a failed statement must be reset before it can run again (the error stays readable
    throw;    // through sqlite3_extended_errcode, which reset sets to the same code)
  }
  reset();
}

void SqliteStatement::reset() {
  sqlite3_reset(stmt_);  // its return code repeats the last step's error, already reported
  sqlite3_clear_bindings(stmt_);
}

bool SqliteStatement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

int64_t SqliteStatement::column_int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double SqliteStatement::column_double(int column) const {
  if (is_null(column)) return std::numeric_limits<double>::quiet_NaN();
  return sqlite3_column_double(stmt_, column);
}

std::string SqliteStatement::column_text(int column) const {
  // text() before bytes(): the documented order, so the length describes the UTF-8 form.
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

void sqlite_exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  const std::string text = message ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  R1_ASSERT(rc == SQLITE_OK, "`", sql, "` failed: ", text);
}

SqliteTransaction::SqliteTransaction(sqlite3* db, Kind kind) : db_(db) {
  sqlite_exec(db_, kind == Kind::write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
}

SqliteTransaction SqliteTransaction::writing_only(sqlite3* db, const std::string& schema_table) {
  SqliteTransaction transaction(db, Kind::read);
  const auto dot = schema_table.find('.');
  R1_ASSERT(dot != std::string::npos, "writing_only wants schema.table, got '", schema_table, "'");
  // The statement's prologue takes the write lock whatever its WHERE matches.
  sqlite_exec(db, ("UPDATE " + schema_table + " SET rowid = rowid WHERE 0").c_str());
  const std::string schema = schema_table.substr(0, dot);
  R1_ASSERT(sqlite3_txn_state(db, schema.c_str()) == SQLITE_TXN_WRITE, "no write lock on ", schema);
  return transaction;
}

SqliteTransaction::~SqliteTransaction() {
  // Never throws from a destructor: a failed ROLLBACK means SQLite already rolled back itself.
  if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void SqliteTransaction::commit() {
  sqlite_exec(db_, "COMMIT");
  open_ = false;
}

}  // namespace r1::sampling
