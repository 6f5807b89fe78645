// The full-text index of a trace store: an FTS5 table over the completions in a second SQLite file
// beside the store (`traces.db` -> `traces.db.fts`), with the id up to which it has indexed. A
// separate file has its own write lock, so a thread can index while another inserts samples (the
// store alone would serialise both on one lock, and indexing is half of an insert's cost). The
// index trails the store by what is not yet indexed; ids are never reused (AUTOINCREMENT), so an
// entry whose sample was deleted simply matches nothing.
#pragma once

#include <cstdint>
#include <string>

struct sqlite3;

namespace r1::sampling::trace_index {

std::string path_for(const std::string& store_path);  // store_path + ".fts"

// ATTACHes the index to `db` as schema "fts". create: make the file and its schema when absent.
// Without create, returns false when there is no index file (a store never opened for writing).
bool attach(sqlite3* db, const std::string& store_path, bool create);

// Indexes up to max_rows samples after the last indexed id, in one transaction that holds only the
// index file's write lock (the store is read from a snapshot). Returns the rows indexed.
int64_t index_pending(sqlite3* db, int64_t max_rows);

// Empties the index and indexes every sample again (after completions were edited by hand).
int64_t rebuild(sqlite3* db);

// Samples in the store not yet in the index.
int64_t pending(sqlite3* db);

}  // namespace r1::sampling::trace_index
