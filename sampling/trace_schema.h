// The trace store's schema: the DDL of the current version, and the migrations that bring a file
// written by an older r1 up to it. Knows nothing of the queries (trace_store.cpp).
#pragma once

#include <string>

struct sqlite3;

namespace r1::sampling::schema {

inline constexpr int kCurrentVersion = 2;

// Creates the current schema in an empty database (inside the caller's transaction).
void create(sqlite3* db);

// The schema_version in meta; UserError naming `path` when the file is not an r1 trace database.
int read_version(sqlite3* db, const std::string& path);

// Upgrades from `version` to kCurrentVersion inside the caller's transaction, one step at a time.
void migrate(sqlite3* db, int version);

}  // namespace r1::sampling::schema
