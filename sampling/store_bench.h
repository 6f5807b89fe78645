// `r1 bench store`: how fast the trace store takes samples and answers the viewer's queries at
// scale, on generated traces shaped like a real run's (several stages, steps of 64 prompts x 16
// samples, chains of thought of 20-80 words, some drifting into German, rejection verdicts).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace r1::sampling {

struct StoreBenchOptions {
  int64_t samples = 1000000;
  std::string db;          // where to build the store; "" = a temporary file, deleted afterwards
  int64_t batch = 1024;    // samples per add_samples call (one training step's worth)
  int64_t repeats = 5;     // each query is timed this many times after a warm-up; the median is reported
  uint64_t seed = 1;
};

// Writes `samples` traces through TraceWriter (the path a run uses), then times: a filtered list
// page, its count, a full-text search (common and rare words), one trace by id, and stats. Returns
// {"samples", "inserts_per_s" (committed: listable), "searchable_per_s" and "index_lag_s" (until
// the full-text index caught up), "list_ms", "count_ms", "search_ms", "search_rare_ms", "get_ms",
// "stats_ms", "db_bytes", and the baseline "plain_inserts_per_s": the same rows into one table with
// neither indices nor full-text index, and "inserts_vs_plain"}.
nlohmann::json bench_store(const StoreBenchOptions& options);

// The generated traces alone, into `db` (for tests and demos of the viewer): `samples` of them,
// committed and indexed. Returns the seconds from opening the store until all were committed, and
// until all were indexed too (indexing runs beside the inserts), generation not counted.
std::pair<double, double> write_synthetic_traces(const std::string& db, int64_t samples, uint64_t seed, int64_t batch = 1024);

}  // namespace r1::sampling
