// The trace store benchmark: generated traces written through TraceWriter, then the viewer's
// queries timed; a plain one-table insert of the same rows is the baseline.
#include "sampling/store_bench.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>

#include <unistd.h>

#include "common/error.h"
#include "sampling/sqlite_statement.h"
#include "sampling/trace_writer.h"

namespace r1::sampling {
namespace {

constexpr int64_t kPromptsPerStep = 64;
constexpr int64_t kSamplesPerPrompt = 16;
constexpr int64_t kCompletionPool = 4096;  // distinct completions, drawn at random per sample

const char* const kEnglish[] = {"first",  "we",    "add",      "the",     "numbers",  "then",    "subtract",
                                "carry",  "the",   "remainder", "so",     "total",    "is",      "each",
                                "box",    "holds", "apples",   "left",    "after",    "giving",  "away",
                                "check",  "again", "multiply", "divide",  "by",       "half",    "of",
                                "answer", "wait",  "let",      "me",      "verify",   "this",    "step"};
const char* const kGerman[] = {"zuerst", "addieren", "wir", "die", "zahlen", "dann", "bleibt", "rest", "also"};
const char* const kStages[] = {"zero", "reasoning_rl", "rejection_sampling"};
const char* const kRejections[] = {"incorrect", "mixed_language", "long_paragraphs", "duplicate"};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct GeneratedCompletion {
  std::string text;
  int64_t tokens = 0;
  double language_share = 1.0;
  bool correct = false;
};

std::vector<GeneratedCompletion> completion_pool(std::mt19937_64& rng) {
  std::vector<GeneratedCompletion> pool;
  for (int64_t i = 0; i < kCompletionPool; ++i) {
    GeneratedCompletion c;
    const int words = 20 + int(rng() % 61);
    const bool drifts = rng() % 10 == 0;  // one in ten drifts into German part-way
    int german = 0;
    std::string think;
    for (int w = 0; w < words; ++w) {
      const bool in_german = drifts && w > words / 2;
      german += in_german;
      think += in_german ? kGerman[rng() % std::size(kGerman)] : kEnglish[rng() % std::size(kEnglish)];
      think += rng() % 7 == 0 ? " " + std::to_string(rng() % 100) + ". " : " ";
    }
    const int answer = int(rng() % 100);
    c.text = "<think>" + think + "</think> <answer>" + std::to_string(answer) + "</answer>";
    c.tokens = int64_t(c.text.size() / 4);
    c.language_share = 1.0 - double(german) / double(words);
    c.correct = rng() % 2 == 0;
    pool.push_back(std::move(c));
  }
  return pool;
}

// Calls `emit` with batches of `batch` generated records until `samples` were made.
template <class Emit>
void generate(int64_t samples, int64_t batch, uint64_t seed, Emit&& emit) {
  std::mt19937_64 rng(seed);
  const auto pool = completion_pool(rng);
  const int64_t per_step = kPromptsPerStep * kSamplesPerPrompt;
  const int64_t steps = std::max<int64_t>(1, (samples + per_step - 1) / per_step);
  std::vector<TraceRecord> records;
  int64_t made = 0;
  for (int64_t s = 0; s < steps && made < samples; ++s) {
    // Stages in order: 40% zero, 40% reasoning_rl, 20% rejection sampling.
    const int stage = s < steps * 2 / 5 ? 0 : s < steps * 4 / 5 ? 1 : 2;
    const int64_t first_of_stage = stage == 0 ? 0 : stage == 1 ? steps * 2 / 5 : steps * 4 / 5;
    const int64_t step = s - first_of_stage + 1;
    for (int64_t p = 0; p < kPromptsPerStep && made < samples; ++p) {
      // A pool of 20,000 prompts visited in order: each once per step, revisited as epochs go by.
      const int64_t prompt_index = ((s * kPromptsPerStep) + p) % 20000;
      for (int64_t k = 0; k < kSamplesPerPrompt && made < samples; ++k) {
        const auto& c = pool[rng() % pool.size()];
        TraceRecord r;
        r.stage = kStages[stage];
        r.step = step;
        r.prompt_index = prompt_index;
        r.sample_index = k;
        r.prompt = "Ann has " + std::to_string(prompt_index % 97) + " apples and buys " +
                   std::to_string(prompt_index % 13) + " more. How many apples does she have?";
        r.reference = std::to_string(prompt_index % 97 + prompt_index % 13);
        r.completion = c.text;
        r.prompt_tokens = 40;
        r.completion_tokens = c.tokens;
        r.finish_reason = rng() % 20 == 0 ? "length" : "stop";
        const double accuracy = c.correct ? 1.0 : 0.0;
        const double format = rng() % 10 == 0 ? 0.0 : 1.0;
        r.components = {{"accuracy", accuracy}, {"format", format}, {"language_consistency", c.language_share}};
        r.reward = accuracy + 0.5 * format + 0.2 * c.language_share;
        r.outcome = c.correct ? "pass" : "fail";
        if (!c.correct) r.reason = "expected " + r.reference;
        r.advantage = double(int64_t(rng() % 2001) - 1000) / 1000.0;
        if (stage == 2) {
          const bool readable = c.language_share > 0.99;
          r.accepted = c.correct && readable;
          if (!*r.accepted) r.rejection_reason = !c.correct ? "incorrect" : kRejections[1 + rng() % 3];
        }
        r.language_share = c.language_share;
        r.logprob_mean = -double(rng() % 1000) / 1000.0;
        r.logprob_min = r.logprob_mean - 3.0;
        r.seed = rng();
        records.push_back(std::move(r));
        ++made;
        if (int64_t(records.size()) == batch) emit(std::exchange(records, {}));
      }
    }
  }
  if (!records.empty()) emit(std::move(records));
}

// Median of `repeats` timings (ms) after one warm-up.
template <class Fn>
double median_ms(int64_t repeats, Fn&& fn) {
  fn();
  std::vector<double> times;
  for (int64_t i = 0; i < std::max<int64_t>(1, repeats); ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    times.push_back(1000.0 * seconds_since(start));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// The baseline: the same rows' columns into one table with no index, in transactions of one batch.
double plain_inserts_per_s(const std::string& path, int64_t samples, int64_t batch, uint64_t seed) {
  std::filesystem::remove(path);
  sqlite3* db = nullptr;
  R1_ASSERT(sqlite3_open(path.c_str(), &db) == SQLITE_OK, path, ": cannot open");
  sqlite_exec(db, "PRAGMA journal_mode = WAL");
  sqlite_exec(db, "PRAGMA synchronous = NORMAL");
  sqlite_exec(db,
              "CREATE TABLE plain(stage TEXT, step INTEGER, prompt_index INTEGER, sample_index INTEGER, prompt TEXT,"
              " reference TEXT, completion TEXT, reward REAL, components TEXT, outcome TEXT, advantage REAL,"
              " language_share REAL, seed INTEGER)");
  double seconds = 0;
  {
    SqliteStatement insert(db, "INSERT INTO plain VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    generate(samples, batch, seed, [&](std::vector<TraceRecord> records) {
      const auto start = std::chrono::steady_clock::now();  // generation is not timed
      SqliteTransaction transaction(db);
      for (const auto& r : records)
        insert.bind(1, r.stage).bind(2, r.step).bind(3, r.prompt_index).bind(4, r.sample_index).bind(5, r.prompt)
            .bind(6, r.reference).bind(7, r.completion).bind(8, r.reward).bind(9, std::string_view("{}"))
            .bind(10, r.outcome).bind(11, r.advantage).bind(12, r.language_share).bind(13, int64_t(r.seed)).run();
      transaction.commit();
      seconds += seconds_since(start);
    });
  }
  sqlite3_close(db);
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  return double(samples) / seconds;
}

}  // namespace

std::pair<double, double> write_synthetic_traces(const std::string& db, int64_t samples, uint64_t seed, int64_t batch) {
  // Made before the clock starts: the store's rate, not the generator's (which would otherwise
  // take one of the cores the writer and the indexer run on).
  std::vector<std::vector<TraceRecord>> batches;
  generate(samples, batch, seed, [&](std::vector<TraceRecord> records) { batches.push_back(std::move(records)); });
  const auto start = std::chrono::steady_clock::now();
  TraceWriter writer(db);
  const int64_t run_id = writer.begin_run("synthetic", "# r1 bench store: generated traces\n");
  for (auto& records : batches) writer.add_samples(run_id, std::move(records));
  writer.flush(/*include_index=*/false);
  const double committed = seconds_since(start);
  writer.flush(/*include_index=*/true);
  return {committed, seconds_since(start)};
}

nlohmann::json bench_store(const StoreBenchOptions& o) {
  R1_CHECK(o.samples >= 1, "--samples must be >= 1, got ", o.samples);
  R1_CHECK(o.batch >= 1, "--batch must be >= 1, got ", o.batch);
  const bool temporary = o.db.empty();
  const std::string path = temporary ? (std::filesystem::temp_directory_path() /
                                        ("r1_bench_store_" + std::to_string(::getpid()) + ".db")).string()
                                     : o.db;
  R1_CHECK(!std::filesystem::exists(path), path, ": exists; the benchmark builds a new store (remove it first)");

  // Inserts, generation included (a run's loop also makes its records while the writer commits).
  const auto [insert_seconds, searchable_seconds] = write_synthetic_traces(path, o.samples, o.seed, o.batch);
  nlohmann::json result = {{"samples", o.samples},
                           {"inserts_per_s", double(o.samples) / insert_seconds},
                           {"searchable_per_s", double(o.samples) / searchable_seconds},
                           {"index_lag_s", searchable_seconds - insert_seconds}};
  {
    TraceStore store(path, /*read_only=*/true);
    TraceFilter page;  // what the viewer asks for: one stage, a step range, rewarded samples
    page.stage = "reasoning_rl";
    page.min_step = 100;
    page.max_step = 300;
    page.min_reward = 1.0;
    page.limit = 50;
    result["list_ms"] = median_ms(o.repeats, [&] { R1_ASSERT(!store.list(page).empty() || o.samples < 500000, "empty page"); });
    auto by_reward = page;
    by_reward.sort = TraceSort::reward;
    by_reward.descending = true;
    result["list_by_reward_ms"] = median_ms(o.repeats, [&] { store.list(by_reward); });
    result["count_ms"] = median_ms(o.repeats, [&] { store.count(page); });
    TraceFilter first_page;
    first_page.limit = 50;
    result["search_ms"] = median_ms(o.repeats, [&] { store.search("carry remainder", first_page); });
    result["search_rare_ms"] = median_ms(o.repeats, [&] { store.search("zuerst verify", first_page); });
    result["get_ms"] = median_ms(o.repeats, [&] { store.get(o.samples / 2); });
    result["stats_ms"] = median_ms(std::min<int64_t>(o.repeats, 3), [&] { store.stats(); });
    result["stats_stage_ms"] = median_ms(std::min<int64_t>(o.repeats, 3), [&] { store.stats("rejection_sampling"); });
  }
  result["db_bytes"] = std::filesystem::file_size(path);
  const double plain = plain_inserts_per_s(path + ".plain", o.samples, o.batch, o.seed);
  result["plain_inserts_per_s"] = plain;
  result["inserts_vs_plain"] = result["inserts_per_s"].get<double>() / plain;
  result["index_bytes"] = std::filesystem::file_size(path + ".fts");
  if (temporary)
    for (const char* suffix : {"", "-wal", "-shm", ".fts", ".fts-wal", ".fts-shm"}) std::filesystem::remove(path + suffix);
  return result;
}

}  // namespace r1::sampling
