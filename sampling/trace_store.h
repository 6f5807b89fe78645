// The SQLite trace store: runs, stages, steps, prompts, every sampled completion with its rewards,
// advantage and verdict, and per-step metrics. This file's .cpp owns the queries; trace_schema.cpp
// owns the DDL and the migrations. Other modules write and read through this API only. The file is
// a plain SQLite database that the stock `sqlite3` shell can query (schema in README.md).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace r1::sampling {

inline constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();  // stored as NULL

// One sampled completion, as a stage hands it to the store.
struct TraceRecord {
  std::string stage;          // "zero", "reasoning_rl", "rejection_sampling", ...
  int64_t step = 0;           // optimiser step the sample was drawn at (0 for a stage without steps)
  int64_t prompt_index = 0;   // index of the prompt in the stage's dataset
  int64_t sample_index = 0;   // index within the prompt's group at this step
  std::string prompt;         // the question (without template); stored once per (stage, prompt_index)
  std::string reference;      // reference answer; stored with the prompt
  std::string completion;     // the generated text, byte-exact (reasoning and answer are cut from it)
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  std::string finish_reason;  // "stop" | "length"
  double reward = 0.0;        // total (weighted) reward
  std::map<std::string, double> components;  // each reward component by name
  std::string outcome;        // accuracy verdict: "pass" | "fail" | "error"
  std::string reason;         // why, for fail/error
  double advantage = kUnknown;
  std::optional<bool> accepted;  // rejection sampling's verdict; nullopt where nothing was judged
  std::string rejection_reason;  // "incorrect", "mixed_language", "long_paragraphs", "code_block", "duplicate", ...
  double language_share = kUnknown;  // share of target-language words in the reasoning, 0..1
  double logprob_mean = kUnknown;    // engine's per-token logprobs of the completion: mean
  double logprob_min = kUnknown;     // and minimum (the least likely token)
  uint64_t seed = 0;                 // sampling seed of the request
};

struct TraceRow : TraceRecord {
  std::string reasoning;  // the chain of thought and the answer, cut from the completion by
  std::string answer;     // split_completion() (stored as byte ranges, not a second copy)
  int64_t id = 0;
  int64_t run_id = 0;
  std::string run_name;
  std::string created_at;  // ISO-8601 UTC
  std::string snippet;     // search() only: the matching part of the completion, matches in [ ]
};

// Where the completion's reasoning (inside <think>...</think>) and answer (after the last
// </think>; the inside of <answer>...</answer> when present) are, as byte ranges, both trimmed of
// whitespace. No tags at all: the whole completion is the answer. Thinking never closed: no answer.
struct CompletionParts {
  std::size_t reasoning_begin = 0, reasoning_end = 0, answer_begin = 0, answer_end = 0;
};
CompletionParts split_completion(std::string_view completion);
// The same as text.
void split_reasoning(const std::string& completion, std::string& reasoning, std::string& answer);

enum class TraceSort { id, step, reward, tokens, language };

// Filters for list/search/export/count. Every value reaches SQLite as a bound parameter.
struct TraceFilter {
  std::optional<int64_t> run_id;
  std::optional<std::string> stage;
  std::optional<int64_t> min_step, max_step;
  std::optional<double> min_reward, max_reward;
  std::optional<bool> accepted;
  std::optional<std::string> rejection_reason;
  std::optional<std::string> finish_reason;
  std::optional<std::string> outcome;
  std::optional<double> min_language, max_language;
  std::optional<int64_t> min_tokens, max_tokens;  // completion tokens
  std::optional<int64_t> after_id;  // keyset paging for sort by id: rows with a larger id (smaller when descending)
  TraceSort sort = TraceSort::id;
  bool descending = false;
  int64_t limit = 20;  // a negative limit means no limit (as SQLite's LIMIT)
  int64_t offset = 0;
};

// The part of `completion` around the first word of `query` it contains, that word in [ ]
// (what search() puts in TraceRow::snippet).
std::string snippet(const std::string& completion, const std::string& query);

// Names for TraceSort on the command line and in URLs: "id", "step", "reward", "tokens", "language".
std::optional<TraceSort> trace_sort_named(const std::string& name);

// A distribution's summary. Empty (count 0, NaNs) when no value was present.
struct Distribution {
  int64_t count = 0;
  double mean = kUnknown, stddev = kUnknown, min = kUnknown, max = kUnknown;
};

struct StepStats {
  std::string stage;
  int64_t step = 0;
  int64_t count = 0;
  Distribution reward;
  Distribution tokens;     // completion tokens
  Distribution language;   // language share (samples that have one)
  double pass_rate = kUnknown;       // share of the graded samples (with an outcome) whose outcome is "pass"
  int64_t graded = 0;                // samples with an outcome
  double truncated_share = 0.0;      // share with finish_reason "length"
  int64_t accepted = 0, rejected = 0;
  std::map<std::string, int64_t> rejections;      // count by rejection reason
  std::map<std::string, double> mean_components;  // mean over the samples that have the component
  std::map<std::string, int64_t> component_counts;  // how many samples have it (with a value)
};

// One row for several steps (a stage's summary): counts added, distributions and shares combined
// as over the union of the samples; stage/step taken from the first row.
StepStats combine(const std::vector<StepStats>& rows);

struct StepMetrics {
  std::string stage;
  int64_t step = 0;
  std::map<std::string, double> values;
};

struct RunInfo {
  int64_t id = 0;
  std::string name;
  std::string created_at;
  std::vector<std::string> stages;  // in the order they started
};

class TraceStore {
 public:
  static constexpr int kSchemaVersion = 2;

  // Opens or creates `path` (WAL mode, schema created if absent, an older schema migrated in one
  // transaction). read_only never creates, and never writes except to migrate an older schema
  // first (through a short read-write connection); a file in a read-only directory is read as
  // immutable. UserError naming the file when it is missing (read-only), not an r1 database, its
  // schema is newer than ours, or it is older and cannot be written to migrate it.
  explicit TraceStore(const std::string& path, bool read_only = false);
  ~TraceStore();
  TraceStore(const TraceStore&) = delete;
  TraceStore& operator=(const TraceStore&) = delete;

  const std::string& path() const { return path_; }
  int schema_version() const;

  // The run named `name`, created (with its config) when absent: a resumed run keeps its id.
  int64_t begin_run(const std::string& name, const std::string& config_yaml);
  std::vector<RunInfo> runs() const;

  // All records in one transaction. Prompts are stored once per (run, stage, prompt_index).
  // UserError on a second sample with the same (run, stage, step, prompt_index, sample_index).
  void add_samples(int64_t run_id, const std::vector<TraceRecord>& records);
  void add_step_metrics(int64_t run_id, const std::string& stage, int64_t step,
                        const std::map<std::string, double>& metrics);
  // One transaction holding both: what the background writer commits per batch.
  struct StepMetricsWrite {
    int64_t run_id = 0;
    std::string stage;
    int64_t step = 0;
    std::map<std::string, double> metrics;
  };
  struct SamplesWrite {
    int64_t run_id = 0;
    std::vector<TraceRecord> records;
  };
  void write(const std::vector<SamplesWrite>& samples, const std::vector<StepMetricsWrite>& metrics);

  // Deletes a stage's samples and step metrics from `first_step` on: a stage resumed from the
  // checkpoint of step first_step - 1 writes them again. Returns the samples deleted.
  int64_t truncate_stage(int64_t run_id, const std::string& stage, int64_t first_step);
  // The last step of a stage with any sample or metric; nullopt when none.
  std::optional<int64_t> last_step(int64_t run_id, const std::string& stage) const;

  std::vector<TraceRow> list(const TraceFilter& filter) const;
  int64_t count(const TraceFilter& filter) const;
  int64_t count() const;
  std::optional<TraceRow> get(int64_t id) const;
  // Full-text search over completions (FTS5), newest first, narrowed by `filter` (its sort is
  // ignored). By default every word of `text` must occur (each is matched as a quoted term, so
  // quotes and operators in it are plain text); raw_fts passes `text` as an FTS5 query instead
  // (phrases, OR, NEAR, prefix*), and a malformed one is a UserError.
  // Searches the full-text index (trace_index.h): a read-only store sees what its writer has indexed
  // so far (unindexed() says how much is not); a writable one indexes what is pending first.
  std::vector<TraceRow> search(const std::string& text, const TraceFilter& filter, bool raw_fts = false) const;
  // Indexes samples not yet in the full-text index (all of them by default); returns how many.
  int64_t index_pending(int64_t max_rows = -1);
  // Indexes every sample again: after completions were edited outside r1 (deleted samples need
  // nothing: they stop matching at once). Returns the samples indexed.
  int64_t rebuild_index();
  int64_t unindexed() const;
  // Per stage and step, ordered by stage (in the order stages started) and step.
  std::vector<StepStats> stats(const std::optional<std::string>& stage = std::nullopt,
                               std::optional<int64_t> run_id = std::nullopt) const;
  std::vector<StepMetrics> step_metrics(const std::optional<std::string>& stage = std::nullopt,
                                        std::optional<int64_t> run_id = std::nullopt) const;
  std::vector<std::string> stage_names() const;  // every stage with samples or metrics, in start order

 private:
  struct Statements;  // prepared statements and id caches of the write path
  int64_t stage_id(int64_t run_id, const std::string& stage, bool create);
  int64_t step_id(int64_t stage_id, int64_t step);

  sqlite3* db_ = nullptr;
  std::string path_;
  bool writable_ = false;
  bool index_attached_ = false;
  std::unique_ptr<Statements> statements_;
};

}  // namespace r1::sampling
