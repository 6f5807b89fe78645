// The SQLite trace store: every sampled completion with its rewards, advantage and verdict, and
// per-step metrics. This file owns the schema; other modules write and read through this API only.
// The database is a plain SQLite file that the stock `sqlite3` shell can query (see README.md).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace r1::sampling {

struct TraceRecord {
  std::string stage;          // "zero", "reasoning_rl", ...
  int64_t step = 0;           // optimiser step the sample was drawn at
  int64_t prompt_index = 0;   // index of the prompt in the stage's dataset
  int64_t sample_index = 0;   // index within the prompt's group
  std::string prompt;         // the question (without template)
  std::string completion;     // the generated text
  std::string reference;      // reference answer
  double reward = 0.0;        // total (weighted) reward
  std::map<std::string, double> components;  // each reward component by name
  std::string outcome;        // "pass" | "fail" | "error"
  std::string reason;         // why, for fail/error
  double advantage = 0.0;
  int64_t num_tokens = 0;     // completion tokens
  std::string finish_reason;  // "stop" | "length"
  double mean_logprob = 0.0;  // engine's mean per-token logprob of the completion
  uint64_t seed = 0;          // sampling seed of the request
};

struct TraceRow : TraceRecord {
  int64_t id = 0;
  int64_t run_id = 0;
  std::string created_at;  // ISO-8601 UTC
};

struct TraceFilter {
  std::optional<int64_t> run_id;
  std::optional<std::string> stage;
  std::optional<int64_t> min_step, max_step;
  std::optional<double> min_reward, max_reward;
  int64_t limit = 20;  // a negative limit means no limit (as SQLite's LIMIT)
  int64_t offset = 0;
};

struct StepStats {
  std::string stage;
  int64_t step = 0;
  int64_t count = 0;
  double mean_reward = 0.0;
  double mean_tokens = 0.0;
  std::map<std::string, double> mean_components;
};

class TraceStore {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens or creates `path` (WAL mode, schema created if absent). read_only opens without creating.
  // UserError naming the file when it is not an r1 database or its schema is newer than ours.
  explicit TraceStore(const std::string& path, bool read_only = false);
  ~TraceStore();
  TraceStore(const TraceStore&) = delete;
  TraceStore& operator=(const TraceStore&) = delete;

  int64_t begin_run(const std::string& name, const std::string& config_yaml);
  // All records in one transaction.
  void add_samples(int64_t run_id, const std::vector<TraceRecord>& records);
  void add_step_metrics(int64_t run_id, const std::string& stage, int64_t step,
                        const std::map<std::string, double>& metrics);

  std::vector<TraceRow> list(const TraceFilter& filter) const;  // ordered by id
  std::optional<TraceRow> get(int64_t id) const;
  std::vector<StepStats> stats(const std::optional<std::string>& stage = std::nullopt) const;
  int64_t count() const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace r1::sampling
