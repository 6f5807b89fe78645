// Helpers shared by the trace store, search, migration and writer tests: raw SQL on a file (the way
// another tool or an older r1 would touch it), the stock sqlite3 shell, and catching one error type.
#pragma once

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace r1::sampling::testing {

// The message of the `Error` that `action` throws; a marker that no such error came otherwise.
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
inline void raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  const std::string text = message ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, text);
}

// Every row of `sql` with each column as text ("NULL" for NULL), columns joined by '|'.
inline std::vector<std::string> raw_rows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  const int prepared = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  const std::string prepare_error = sqlite3_errmsg(db);
  std::vector<std::string> rows;
  if (prepared == SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        if (c > 0) row += '|';
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        row += text ? std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, c))) : "NULL";
      }
      rows.push_back(row);
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  REQUIRE_MESSAGE(prepared == SQLITE_OK, prepare_error, " in ", sql);
  return rows;
}

inline int64_t raw_count(const std::string& path, const std::string& sql) {
  const auto rows = raw_rows(path, sql);
  REQUIRE(rows.size() == 1);
  return std::stoll(rows[0]);
}

inline std::string shell_output(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  for (std::size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  CHECK_MESSAGE(pclose(pipe) == 0, command);
  return output;
}

inline bool have_sqlite3_shell() { return access("/usr/bin/sqlite3", X_OK) == 0; }

inline std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// What `action` writes to the process's stderr (file descriptor 2), e.g. the migration notice.
inline std::string capture_stderr(const std::function<void()>& action) {
  std::fflush(stderr);
  char name[] = "/tmp/r1-sampling-stderr-XXXXXX";
  const int file = mkstemp(name);
  REQUIRE(file >= 0);
  const int saved = dup(2);
  dup2(file, 2);
  std::exception_ptr error;
  try {
    action();
  } catch (...) {
    error = std::current_exception();
  }
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(file);
  const std::string text = file_bytes(name);
  std::remove(name);
  if (error) std::rethrow_exception(error);
  return text;
}

// Equal, where NaN (a NULL in the store) equals NaN.
inline bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

inline bool same(const std::map<std::string, double>& a, const std::map<std::string, double>& b) {
  if (a.size() != b.size()) return false;
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j)
    if (i->first != j->first || !same(i->second, j->second)) return false;
  return true;
}

inline std::string describe(const std::map<std::string, double>& values) {
  std::ostringstream out;
  out << "{";
  for (const auto& [name, value] : values) out << " " << name << "=" << value;
  out << " }";
  return out.str();
}

}  // namespace r1::sampling::testing

// Failing comparisons of id and text lists print their elements instead of {?}.
template <>
struct doctest::StringMaker<std::vector<int64_t>> {
  static doctest::String convert(const std::vector<int64_t>& values) {
    std::ostringstream out;
    out << "{";
    for (std::size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << values[i];
    out << "}";
    return out.str().c_str();
  }
};
template <>
struct doctest::StringMaker<std::vector<std::string>> {
  static doctest::String convert(const std::vector<std::string>& values) {
    std::ostringstream out;
    out << "{";
    for (std::size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << '"' << values[i].substr(0, 200) << '"';
    out << "}";
    return out.str().c_str();
  }
};
