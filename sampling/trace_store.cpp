// The SQLite trace store: opening (create, migrate, refuse), the batched write path with its
// prepared statements and id caches, and the queries behind `r1 traces` and `r1 serve`. Values
// always travel as bound parameters (see sqlite_statement.h); only fixed clause text is composed.
#include "sampling/trace_store.h"

#include <sqlite3.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/completion_text.h"
#include "common/error.h"
#include "sampling/sqlite_statement.h"
#include "sampling/trace_index.h"
#include "sampling/trace_schema.h"

namespace r1::sampling {
namespace {

// The columns read into a TraceRow, in read_row's order, and the joins they come from.
constexpr const char* kRowSelect =
    "SELECT s.id, g.run_id, r.name, g.name, t.step, p.prompt_index, s.sample_index, p.prompt, p.reference,"
    " s.completion, s.reasoning_begin, s.reasoning_end, s.answer_begin, s.answer_end, s.prompt_tokens, s.completion_tokens, s.finish_reason, s.reward,"
    " s.components, s.outcome, s.reason, s.advantage, s.accepted, s.rejection_reason, s.language_share,"
    " s.logprob_mean, s.logprob_min, s.seed, s.created_at";
constexpr const char* kRowJoins =
    " JOIN steps t ON t.id = s.step_id JOIN stages g ON g.id = t.stage_id JOIN runs r ON r.id = g.run_id"
    " JOIN prompts p ON p.id = s.prompt_id";
constexpr int kRowColumnCount = 29;

std::map<std::string, double> parse_components(const std::string& text) {
  std::map<std::string, double> out;
  if (text.empty()) return out;
  const auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return out;
  for (const auto& [name, value] : parsed.items())
    out[name] = value.is_number() ? value.get<double>() : kUnknown;  // null: a NaN component
  return out;
}

std::string components_json(const std::map<std::string, double>& components) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [name, value] : components) object[name] = std::isfinite(value) ? nlohmann::json(value) : nullptr;
  // Component names come from code or config; replace rather than throw on a stray byte.
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TraceRow read_row(const SqliteStatement& row) {
  TraceRow out;
  int c = 0;
  out.id = row.column_int64(c++);
  out.run_id = row.column_int64(c++);
  out.run_name = row.column_text(c++);
  out.stage = row.column_text(c++);
  out.step = row.column_int64(c++);
  out.prompt_index = row.column_int64(c++);
  out.sample_index = row.column_int64(c++);
  out.prompt = row.column_text(c++);
  out.reference = row.column_text(c++);
  out.completion = row.column_text(c++);
  // Byte ranges into the completion; clamped, so a range edited by hand in the shell cannot overrun.
  const auto cut = [&](int first) {
    const auto size = int64_t(out.completion.size());
    const int64_t begin = std::clamp<int64_t>(row.column_int64(first), 0, size);
    const int64_t end = std::clamp<int64_t>(row.column_int64(first + 1), begin, size);
    return out.completion.substr(std::size_t(begin), std::size_t(end - begin));
  };
  out.reasoning = cut(c);
  out.answer = cut(c + 2);
  c += 4;
  out.prompt_tokens = row.column_int64(c++);
  out.completion_tokens = row.column_int64(c++);
  out.finish_reason = row.column_text(c++);
  out.reward = row.column_double(c++);
  out.components = parse_components(row.column_text(c++));
  out.outcome = row.column_text(c++);
  out.reason = row.column_text(c++);
  out.advantage = row.column_double(c++);
  if (!row.is_null(c)) out.accepted = row.column_int64(c) != 0;
  ++c;
  out.rejection_reason = row.column_text(c++);
  out.language_share = row.column_double(c++);
  out.logprob_mean = row.column_double(c++);
  out.logprob_min = row.column_double(c++);
  out.seed = static_cast<uint64_t>(row.column_int64(c++));  // stored as its int64 bit pattern
  out.created_at = row.column_text(c++);
  R1_ASSERT(c == kRowColumnCount, "read_row reads ", c, " columns, the select has ", kRowColumnCount);
  return out;
}

// ISO-8601 UTC with milliseconds: sorts as text, and SQLite's date functions read it.
std::string now_utc() {
  const auto now = std::chrono::system_clock::now();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char result[48];
  std::snprintf(result, sizeof result, "%.*s.%03dZ", static_cast<int>(length), text, static_cast<int>(millis));
  return result;
}

bool table_exists(sqlite3* db, const char* name) {
  SqliteStatement query(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
  query.bind(1, std::string_view(name));
  query.step();
  return query.column_int64(0) > 0;
}

int64_t user_object_count(sqlite3* db) {
  SqliteStatement query(db, "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'");
  query.step();
  return query.column_int64(0);
}

// The id a bound `find` selects, or -1 when it selects none; `find` is reset for its next binds.
int64_t selected_id(SqliteStatement& find) {
  const int64_t id = find.step() ? find.column_int64(0) : -1;
  find.reset();
  return id;
}

// Runs a bound INSERT and returns the new row's id.
int64_t inserted_id(sqlite3* db, SqliteStatement& insert) {
  insert.run();
  return sqlite3_last_insert_rowid(db);
}

// The first read of the file is where SQLite notices it is not a database (open is lazy).
void probe_database(sqlite3* db, const std::string& path) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  const std::string message = sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) R1_FAIL(path, ": not an SQLite database (", message, ")");
  R1_ASSERT(rc == SQLITE_ROW, path, ": cannot read: ", message);
}

// immutable: open as a URI with immutable=1, for a file in a read-only directory (WAL readers need
// to create the -shm file beside it; an immutable reader needs none, and nothing can be writing).
sqlite3* open_connection(const std::string& path, bool read_only, bool immutable = false) {
  // Once per process, before SQLite initialises: no allocation statistics. They take one global
  // mutex per malloc, on which the trace writer and the indexer thread would otherwise queue
  // (measured at 1M traces: 91k -> 102k inserts/s, mean of three runs each). r1 never reads them.
  static const bool configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  (void)configured;
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  std::string name = path;
  if (immutable) {
    name = "file:";
    for (unsigned char c : path) {
      if (std::isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-') {
        name += char(c);
      } else {
        char escaped[4];
        std::snprintf(escaped, sizeof escaped, "%%%02X", c);
        name += escaped;
      }
    }
    name += "?immutable=1";
    flags |= SQLITE_OPEN_URI;
  }
  const int rc = sqlite3_open_v2(name.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    R1_FAIL(path, ": cannot open trace database (", message, ")");
  }
  sqlite3_extended_result_codes(db, 0);  // plain codes, so SQLITE_NOTADB compares as such
  sqlite3_busy_timeout(db, 10000);       // a second writer or a checkpoint waits, not fails
  return db;
}

// Creates the schema in an empty file or migrates an older one, in one transaction: a crash midway
// leaves the file as it was. Another process may have done it between our check and the lock.
void prepare_schema(sqlite3* db, const std::string& path) {
  SqliteTransaction transaction(db);
  if (!table_exists(db, "meta")) {
    R1_CHECK(user_object_count(db) == 0, path, ": an SQLite database, but not an r1 trace database (it has no meta table)");
    schema::create(db);
    SqliteStatement insert(db, "INSERT INTO meta(key, value) VALUES ('created_at', ?)");
    insert.bind(1, now_utc()).run();
  } else {
    const int version = schema::read_version(db, path);
    R1_CHECK(version <= schema::kCurrentVersion, path, ": trace schema version ", version,
             " is newer than this r1 reads (", schema::kCurrentVersion, "); use a newer r1");
    if (version < schema::kCurrentVersion) {
      std::fprintf(stderr, "%s: migrating trace schema %d -> %d\n", path.c_str(), version, schema::kCurrentVersion);
      schema::migrate(db, version);
    }
  }
  transaction.commit();
}

// FTS5 query text for "every word must occur": each whitespace-separated word becomes a quoted
// term (inner quotes doubled), so operators, parentheses and quotes in the user's text are plain.
std::string all_words_query(const std::string& text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i >= text.size()) break;
    std::string term = "\"";
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) {
      if (text[i] == '"') term += '"';
      term += text[i++];
    }
    if (!out.empty()) out += ' ';
    out += term + "\"";
  }
  return out;
}

// The WHERE clauses of a filter over `samples s` (joined as in kRowJoins), and binding its values
// in the same order.
// The id range of the samples of the steps a filter's run/stage/step conditions select (from the
// steps' first/last_sample_id), so the main query walks only those rows. nullopt: no such filter;
// an empty range (first > last) when no step matches.
using IdRange = std::optional<std::pair<int64_t, int64_t>>;
IdRange id_range(sqlite3* db, const TraceFilter& f) {
  if (!f.run_id && !f.stage && !f.min_step && !f.max_step) return std::nullopt;
  std::string sql = "SELECT min(t.first_sample_id), max(t.last_sample_id) FROM steps t JOIN stages g ON g.id = t.stage_id WHERE 1";
  if (f.run_id) sql += " AND g.run_id = ?";
  if (f.stage) sql += " AND g.name = ?";
  if (f.min_step) sql += " AND t.step >= ?";
  if (f.max_step) sql += " AND t.step <= ?";
  SqliteStatement query(db, sql);
  int index = 0;
  if (f.run_id) query.bind(++index, *f.run_id);
  if (f.stage) query.bind(++index, *f.stage);
  if (f.min_step) query.bind(++index, *f.min_step);
  if (f.max_step) query.bind(++index, *f.max_step);
  query.step();
  if (query.is_null(0)) return std::make_pair(int64_t(1), int64_t(0));
  return std::make_pair(query.column_int64(0), query.column_int64(1));
}

std::string where_clause(const TraceFilter& f, const IdRange& range) {
  std::string sql = " WHERE 1";
  if (range) sql += " AND s.id BETWEEN ? AND ?";
  if (f.after_id) sql += f.descending ? " AND s.id < ?" : " AND s.id > ?";
  if (f.run_id) sql += " AND g.run_id = ?";
  if (f.stage) sql += " AND g.name = ?";
  if (f.min_step) sql += " AND t.step >= ?";
  if (f.max_step) sql += " AND t.step <= ?";
  if (f.min_reward) sql += " AND s.reward >= ?";
  if (f.max_reward) sql += " AND s.reward <= ?";
  if (f.accepted) sql += " AND s.accepted = ?";
  if (f.rejection_reason) sql += " AND s.rejection_reason = ?";
  if (f.finish_reason) sql += " AND s.finish_reason = ?";
  if (f.outcome) sql += " AND s.outcome = ?";
  if (f.min_language) sql += " AND s.language_share >= ?";
  if (f.max_language) sql += " AND s.language_share <= ?";
  if (f.min_tokens) sql += " AND s.completion_tokens >= ?";
  if (f.max_tokens) sql += " AND s.completion_tokens <= ?";
  return sql;
}

int bind_filter(SqliteStatement& query, const TraceFilter& f, const IdRange& range, int index) {
  if (range) {
    query.bind(++index, range->first);
    query.bind(++index, range->second);
  }
  if (f.after_id) query.bind(++index, *f.after_id);
  if (f.run_id) query.bind(++index, *f.run_id);
  if (f.stage) query.bind(++index, *f.stage);
  if (f.min_step) query.bind(++index, *f.min_step);
  if (f.max_step) query.bind(++index, *f.max_step);
  if (f.min_reward) query.bind(++index, *f.min_reward);
  if (f.max_reward) query.bind(++index, *f.max_reward);
  if (f.accepted) query.bind(++index, int64_t(*f.accepted ? 1 : 0));
  if (f.rejection_reason) query.bind(++index, *f.rejection_reason);
  if (f.finish_reason) query.bind(++index, *f.finish_reason);
  if (f.outcome) query.bind(++index, *f.outcome);
  if (f.min_language) query.bind(++index, *f.min_language);
  if (f.max_language) query.bind(++index, *f.max_language);
  if (f.min_tokens) query.bind(++index, *f.min_tokens);
  if (f.max_tokens) query.bind(++index, *f.max_tokens);
  return index;
}

const char* order_clause(const TraceFilter& f) {
  // Sorts that an index serves (id, reward, tokens) stop after one page; step and language share
  // sort the matching rows (narrow by stage first on a large store).
  switch (f.sort) {
    case TraceSort::id: return f.descending ? " ORDER BY s.id DESC" : " ORDER BY s.id";
    case TraceSort::step: return f.descending ? " ORDER BY t.step DESC, s.id DESC" : " ORDER BY t.step, s.id";
    case TraceSort::reward: return f.descending ? " ORDER BY s.reward DESC, s.id DESC" : " ORDER BY s.reward, s.id";
    case TraceSort::tokens:
      return f.descending ? " ORDER BY s.completion_tokens DESC, s.id DESC" : " ORDER BY s.completion_tokens, s.id";
    case TraceSort::language:
      return f.descending ? " ORDER BY s.language_share DESC, s.id DESC" : " ORDER BY s.language_share, s.id";
  }
  return " ORDER BY s.id";
}

void check_paging(const TraceFilter& f) {
  R1_CHECK(f.offset >= 0, "trace filter: offset must be >= 0, got ", f.offset);
}

Distribution distribution(const SqliteStatement& row, int first) {
  // Columns: count, avg, avg of squares, min, max.
  Distribution d;
  d.count = row.column_int64(first);
  if (d.count == 0) return d;
  d.mean = row.column_double(first + 1);
  d.stddev = std::sqrt(std::max(0.0, row.column_double(first + 2) - d.mean * d.mean));
  d.min = row.column_double(first + 3);
  d.max = row.column_double(first + 4);
  return d;
}

// The words of a search to highlight: runs of letters, digits and non-ASCII bytes, lowercased
// (ASCII), without FTS5's operators.
std::vector<std::string> search_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  const auto done = [&] {
    if (!word.empty() && word != "and" && word != "or" && word != "not" && word != "near") words.push_back(word);
    word.clear();
  };
  for (unsigned char c : text) {
    if (std::isalnum(c) || c >= 0x80) word += char(std::tolower(c));
    else done();
  }
  done();
  return words;
}

}  // namespace

std::string snippet(const std::string& completion, const std::string& query) {
  std::string lower = completion;
  for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  std::size_t at = std::string::npos, length = 0;
  for (const auto& word : search_words(query)) {
    const std::size_t found = lower.find(word);
    if (found < at) {
      at = found;
      length = word.size();
    }
  }
  if (at == std::string::npos) return completion.substr(0, std::min<std::size_t>(completion.size(), 120));
  // A window around the match, never cutting a UTF-8 character.
  const auto is_continuation = [&](std::size_t i) {
    return i < completion.size() && (static_cast<unsigned char>(completion[i]) & 0xC0) == 0x80;
  };
  std::size_t begin = at > 60 ? at - 60 : 0;
  while (begin > 0 && is_continuation(begin)) --begin;
  std::size_t end = std::min(completion.size(), at + length + 80);
  while (end < completion.size() && is_continuation(end)) ++end;
  // Every occurrence of every word inside the window goes in [ ].
  const auto words = search_words(query);
  std::string out = begin > 0 ? "..." : "";
  for (std::size_t i = begin; i < end;) {
    std::size_t matched = 0;
    for (const auto& word : words)
      if (lower.compare(i, word.size(), word) == 0 && i + word.size() <= end) matched = std::max(matched, word.size());
    if (matched > 0) {
      out += "[" + completion.substr(i, matched) + "]";
      i += matched;
    } else {
      out += completion[i++];
    }
  }
  if (end < completion.size()) out += "...";
  return out;
}

CompletionParts split_completion(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  // The range of `part` (a view into `text`) trimmed, as offsets into text.
  const auto range = [&](std::string_view part, std::size_t& begin, std::size_t& end) {
    const std::size_t first = part.find_first_not_of(kSpace);
    const std::size_t offset = std::size_t(part.data() - text.data());
    if (first == std::string_view::npos) {
      begin = end = offset;
      return;
    }
    begin = offset + first;
    end = offset + part.find_last_not_of(kSpace) + 1;
  };
  CompletionParts parts;
  const bool has_close = text.rfind("</think>") != std::string_view::npos;
  const bool thinks = has_close || text.find("<think>") != std::string_view::npos;
  if (thinks) range(completion::think_text(text), parts.reasoning_begin, parts.reasoning_end);
  const std::string_view region = completion::after_think(text);
  if (has_close || !thinks) {  // thinking never closed: all of it is reasoning, there is no answer
    if (const auto tagged = completion::last_answer_tag(region)) range(*tagged, parts.answer_begin, parts.answer_end);
    else range(region, parts.answer_begin, parts.answer_end);
  }
  return parts;
}

void split_reasoning(const std::string& completion, std::string& reasoning, std::string& answer) {
  const auto parts = split_completion(completion);
  reasoning = completion.substr(parts.reasoning_begin, parts.reasoning_end - parts.reasoning_begin);
  answer = completion.substr(parts.answer_begin, parts.answer_end - parts.answer_begin);
}

StepStats combine(const std::vector<StepStats>& rows) {
  StepStats out;
  if (rows.empty()) return out;
  out.stage = rows.front().stage;
  out.step = rows.front().step;
  // Distributions: weighted means of the mean and of the mean square; min of mins, max of maxes.
  const auto merge = [](Distribution& into, const Distribution& d) {
    if (d.count == 0) return;
    if (into.count == 0) {
      into = d;
      return;
    }
    const double n = double(into.count + d.count);
    const double square = (double(into.count) * (into.stddev * into.stddev + into.mean * into.mean) +
                           double(d.count) * (d.stddev * d.stddev + d.mean * d.mean)) / n;
    into.mean = (double(into.count) * into.mean + double(d.count) * d.mean) / n;
    into.stddev = std::sqrt(std::max(0.0, square - into.mean * into.mean));
    into.min = std::min(into.min, d.min);
    into.max = std::max(into.max, d.max);
    into.count += d.count;
  };
  double pass = 0, pass_weight = 0, truncated = 0;
  std::map<std::string, std::pair<double, double>> components;  // sum of means weighted by count, weight
  for (const auto& row : rows) {
    out.count += row.count;
    merge(out.reward, row.reward);
    merge(out.tokens, row.tokens);
    merge(out.language, row.language);
    if (!std::isnan(row.pass_rate) && row.graded > 0) {
      pass += row.pass_rate * double(row.graded);
      pass_weight += double(row.graded);
    }
    out.graded += row.graded;
    truncated += row.truncated_share * double(row.count);
    out.accepted += row.accepted;
    out.rejected += row.rejected;
    for (const auto& [reason, n] : row.rejections) out.rejections[reason] += n;
    for (const auto& [name, mean] : row.mean_components) {
      const auto counted = row.component_counts.find(name);
      const double n = counted == row.component_counts.end() ? double(row.count) : double(counted->second);
      if (n == 0 || std::isnan(mean)) continue;
      components[name].first += mean * n;
      components[name].second += n;
      out.component_counts[name] += int64_t(n);
    }
  }
  out.pass_rate = pass_weight > 0 ? pass / pass_weight : kUnknown;
  out.truncated_share = out.count > 0 ? truncated / double(out.count) : 0.0;
  for (const auto& [name, sum] : components) out.mean_components[name] = sum.first / sum.second;
  return out;
}

std::optional<TraceSort> trace_sort_named(const std::string& name) {
  if (name == "id") return TraceSort::id;
  if (name == "step") return TraceSort::step;
  if (name == "reward") return TraceSort::reward;
  if (name == "tokens" || name == "length") return TraceSort::tokens;
  if (name == "language") return TraceSort::language;
  return std::nullopt;
}

struct TraceStore::Statements {
  explicit Statements(sqlite3* db)
      : insert_sample(db,
                      "INSERT INTO samples(step_id, prompt_id, sample_index, completion, reasoning_begin, reasoning_end,"
                      " answer_begin, answer_end,"
                      " prompt_tokens, completion_tokens, finish_reason, reward, components, outcome, reason,"
                      " advantage, accepted, rejection_reason, language_share, logprob_mean, logprob_min, seed,"
                      " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        find_stage(db, "SELECT id FROM stages WHERE run_id = ? AND name = ?"),
        insert_stage(db, "INSERT INTO stages(run_id, name, started_at) VALUES (?, ?, ?)"),
        find_step(db, "SELECT id FROM steps WHERE stage_id = ? AND step = ?"),
        insert_step(db, "INSERT INTO steps(stage_id, step, created_at) VALUES (?, ?, ?)"),
        find_prompt(db, "SELECT id FROM prompts WHERE stage_id = ? AND prompt_index = ?"),
        insert_prompt(db, "INSERT INTO prompts(stage_id, prompt_index, prompt, reference) VALUES (?, ?, ?, ?)"),
        insert_metric(db, "INSERT OR REPLACE INTO step_metrics(step_id, name, value) VALUES (?, ?, ?)"),
        widen_step(db, "UPDATE steps SET first_sample_id = min(coalesce(first_sample_id, ?1), ?1),"
                       " last_sample_id = max(coalesce(last_sample_id, ?2), ?2) WHERE id = ?3") {}

  // Ids are cached for the connection's life; a failed transaction clears them (its ids are gone).
  void clear() {
    stages.clear();
    steps.clear();
    prompts.clear();
  }

  SqliteStatement insert_sample, find_stage, insert_stage, find_step, insert_step, find_prompt, insert_prompt,
      insert_metric, widen_step;
  std::map<std::pair<int64_t, std::string>, int64_t> stages;
  std::map<std::pair<int64_t, int64_t>, int64_t> steps;
  std::map<std::pair<int64_t, int64_t>, int64_t> prompts;
};

TraceStore::TraceStore(const std::string& path, bool read_only) : path_(path) {
  // A read-only opener (r1 traces, r1 serve) of an older file migrates it first through a
  // short-lived read-write connection, then reads.
  if (read_only) {
    R1_CHECK(std::filesystem::exists(path), path, ": no such trace database");
    db_ = open_connection(path, true);
    bool needs_migration = false;
    try {
      if (access(std::filesystem::absolute(path).parent_path().c_str(), W_OK) != 0 &&
          !std::filesystem::exists(path + "-shm")) {
        sqlite3_close_v2(db_);
        db_ = open_connection(path, true, /*immutable=*/true);
      }
      probe_database(db_, path);
      R1_CHECK(table_exists(db_, "meta"), path,
               user_object_count(db_) == 0 ? ": empty database, no r1 traces in it"
                                           : ": an SQLite database, but not an r1 trace database (it has no meta table)");
      const int version = schema::read_version(db_, path);
      R1_CHECK(version <= schema::kCurrentVersion, path, ": trace schema version ", version,
               " is newer than this r1 reads (", schema::kCurrentVersion, "); use a newer r1");
      needs_migration = version < schema::kCurrentVersion;
    } catch (...) {
      sqlite3_close_v2(db_);
      db_ = nullptr;
      throw;
    }
    if (needs_migration) {
      sqlite3_close_v2(db_);
      db_ = nullptr;
      TraceStore upgrade(path, /*read_only=*/false);
      upgrade.index_pending();
      db_ = open_connection(path, true);
    }
    index_attached_ = trace_index::attach(db_, path, /*create=*/false);
    return;
  }

  db_ = open_connection(path, false);
  // The destructor does not run when a constructor throws: close here on every failure below.
  try {
    probe_database(db_, path);
    R1_CHECK(!sqlite3_db_readonly(db_, "main"), path, ": cannot write the trace database (read-only file or directory)",
             " - a run needs to write it, and an older schema needs a migration before it can be read");
    sqlite_exec(db_, "PRAGMA foreign_keys = ON");
    prepare_schema(db_, path);  // before WAL: a file that is not ours is refused unchanged
    sqlite_exec(db_, "PRAGMA journal_mode = WAL");    // readers (r1 serve) never block the writer
    sqlite_exec(db_, "PRAGMA synchronous = NORMAL");  // WAL + NORMAL: a crash loses no commit; power loss may lose the last
    sqlite_exec(db_, "PRAGMA cache_size = -65536");    // 64 MiB: the indices of a large store stay in memory while writing
    sqlite_exec(db_, "PRAGMA wal_autocheckpoint = 16384");  // 64 MiB of WAL between checkpoints: hot pages copied once
    index_attached_ = trace_index::attach(db_, path, /*create=*/true);
    writable_ = true;
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

TraceStore::~TraceStore() { sqlite3_close_v2(db_); }

int TraceStore::schema_version() const { return schema::read_version(db_, path_); }

int64_t TraceStore::begin_run(const std::string& name, const std::string& config_yaml) {
  auto transaction = SqliteTransaction::writing_only(db_, "main.meta");
  SqliteStatement find(db_, "SELECT id FROM runs WHERE name = ? ORDER BY id LIMIT 1");
  find.bind(1, name);
  if (find.step()) return find.column_int64(0);
  SqliteStatement insert(db_, "INSERT INTO runs(name, config, created_at) VALUES (?, ?, ?)");
  insert.bind(1, name).bind(2, config_yaml).bind(3, now_utc()).run();
  const int64_t id = sqlite3_last_insert_rowid(db_);
  transaction.commit();
  return id;
}

std::vector<RunInfo> TraceStore::runs() const {
  std::vector<RunInfo> out;
  SqliteStatement query(db_, "SELECT id, name, created_at FROM runs ORDER BY id");
  SqliteStatement stages(db_, "SELECT name FROM stages WHERE run_id = ? ORDER BY id");
  while (query.step()) {
    RunInfo run{query.column_int64(0), query.column_text(1), query.column_text(2), {}};
    stages.bind(1, run.id);
    while (stages.step()) run.stages.push_back(stages.column_text(0));
    stages.reset();
    out.push_back(std::move(run));
  }
  return out;
}

int64_t TraceStore::stage_id(int64_t run_id, const std::string& stage, bool create) {
  auto& s = *statements_;
  const auto key = std::make_pair(run_id, stage);
  if (const auto found = s.stages.find(key); found != s.stages.end()) return found->second;
  int64_t id = selected_id(s.find_stage.bind(1, run_id).bind(2, stage));
  if (id < 0) {
    if (!create) return -1;
    id = inserted_id(db_, s.insert_stage.bind(1, run_id).bind(2, stage).bind(3, now_utc()));
  }
  s.stages[key] = id;
  return id;
}

int64_t TraceStore::step_id(int64_t stage, int64_t step) {
  auto& s = *statements_;
  const auto key = std::make_pair(stage, step);
  if (const auto found = s.steps.find(key); found != s.steps.end()) return found->second;
  int64_t id = selected_id(s.find_step.bind(1, stage).bind(2, step));
  if (id < 0) id = inserted_id(db_, s.insert_step.bind(1, stage).bind(2, step).bind(3, now_utc()));
  s.steps[key] = id;
  return id;
}

void TraceStore::add_samples(int64_t run_id, const std::vector<TraceRecord>& records) {
  write({SamplesWrite{run_id, records}}, {});
}

void TraceStore::add_step_metrics(int64_t run_id, const std::string& stage, int64_t step,
                                  const std::map<std::string, double>& metrics) {
  write({}, {StepMetricsWrite{run_id, stage, step, metrics}});
}

void TraceStore::write(const std::vector<SamplesWrite>& samples, const std::vector<StepMetricsWrite>& metrics) {
  if (!statements_) statements_ = std::make_unique<Statements>(db_);
  auto& s = *statements_;
  const std::string created_at = now_utc();
  try {
    auto transaction = SqliteTransaction::writing_only(db_, "main.meta");
    std::map<int64_t, std::pair<int64_t, int64_t>> step_ranges;  // step row -> ids written to it now
    for (const auto& batch : samples) {
      for (const auto& record : batch.records) {
        const int64_t stage = stage_id(batch.run_id, record.stage, /*create=*/true);
        const int64_t step = step_id(stage, record.step);
        const auto prompt_key = std::make_pair(stage, record.prompt_index);
        auto prompt = s.prompts.find(prompt_key);
        if (prompt == s.prompts.end()) {
          int64_t id = selected_id(s.find_prompt.bind(1, stage).bind(2, record.prompt_index));
          if (id < 0)
            id = inserted_id(db_, s.insert_prompt.bind(1, stage).bind(2, record.prompt_index).bind(3, record.prompt)
                                      .bind(4, record.reference));
          prompt = s.prompts.emplace(prompt_key, id).first;
        }
        const auto parts = split_completion(record.completion);
        auto& insert = s.insert_sample;
        insert.bind(1, step)
            .bind(2, prompt->second)
            .bind(3, record.sample_index)
            .bind(4, record.completion)
            .bind(5, int64_t(parts.reasoning_begin))
            .bind(6, int64_t(parts.reasoning_end))
            .bind(7, int64_t(parts.answer_begin))
            .bind(8, int64_t(parts.answer_end))
            .bind(9, record.prompt_tokens)
            .bind(10, record.completion_tokens)
            .bind(11, record.finish_reason)
            .bind(12, record.reward)
            .bind(13, components_json(record.components))
            .bind(14, record.outcome)
            .bind(15, record.reason)
            .bind(16, record.advantage)
            .bind(19, record.language_share)
            .bind(20, record.logprob_mean)
            .bind(21, record.logprob_min)
            .bind(22, static_cast<int64_t>(record.seed))  // SQLite integers are signed 64-bit
            .bind(23, created_at);
        if (record.accepted) insert.bind(17, int64_t(*record.accepted ? 1 : 0));
        else insert.bind_null(17);
        if (record.rejection_reason.empty()) insert.bind_null(18);
        else insert.bind(18, record.rejection_reason);
        try {
          insert.run();
          const int64_t id = sqlite3_last_insert_rowid(db_);
          auto [range, added] = step_ranges.try_emplace(step, id, id);
          range->second.first = std::min(range->second.first, id);
          range->second.second = std::max(range->second.second, id);
        } catch (const InternalError&) {
          if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_UNIQUE)
            R1_FAIL(path_, ": trace already stored: stage '", record.stage, "' step ", record.step, " prompt ",
                    record.prompt_index, " sample ", record.sample_index);
          throw;
        }
      }
    }
    for (const auto& [step, ids] : step_ranges) s.widen_step.bind(1, ids.first).bind(2, ids.second).bind(3, step).run();
    for (const auto& m : metrics) {
      const int64_t step = step_id(stage_id(m.run_id, m.stage, /*create=*/true), m.step);
      // REPLACE: a resumed run that logs a step again overwrites it instead of failing.
      for (const auto& [name, value] : m.metrics) s.insert_metric.bind(1, step).bind(2, name).bind(3, value).run();
    }
    transaction.commit();
  } catch (...) {
    s.insert_sample.reset();
    s.clear();
    throw;
  }
}

int64_t TraceStore::truncate_stage(int64_t run_id, const std::string& stage, int64_t first_step) {
  if (!statements_) statements_ = std::make_unique<Statements>(db_);
  const int64_t stage_row = stage_id(run_id, stage, /*create=*/false);
  if (stage_row < 0) return 0;
  auto transaction = SqliteTransaction::writing_only(db_, "main.meta");
  constexpr const char* kSteps = "(SELECT id FROM steps WHERE stage_id = ? AND step >= ?)";
  SqliteStatement samples(db_, std::string("DELETE FROM samples WHERE step_id IN ") + kSteps);
  samples.bind(1, stage_row).bind(2, first_step).run();
  const int64_t deleted = sqlite3_changes(db_);
  SqliteStatement metrics(db_, std::string("DELETE FROM step_metrics WHERE step_id IN ") + kSteps);
  metrics.bind(1, stage_row).bind(2, first_step).run();
  SqliteStatement steps(db_, "DELETE FROM steps WHERE stage_id = ? AND step >= ?");
  steps.bind(1, stage_row).bind(2, first_step).run();
  transaction.commit();
  statements_->steps.clear();
  return deleted;
}

std::optional<int64_t> TraceStore::last_step(int64_t run_id, const std::string& stage) const {
  SqliteStatement query(db_, "SELECT max(t.step) FROM steps t JOIN stages g ON g.id = t.stage_id"
                             " WHERE g.run_id = ? AND g.name = ?");
  query.bind(1, run_id).bind(2, stage);
  if (!query.step() || query.is_null(0)) return std::nullopt;
  return query.column_int64(0);
}

std::vector<TraceRow> TraceStore::list(const TraceFilter& filter) const {
  check_paging(filter);
  const IdRange range = id_range(db_, filter);
  SqliteStatement query(db_, std::string(kRowSelect) + " FROM samples s" + kRowJoins + where_clause(filter, range) +
                                 order_clause(filter) + " LIMIT ? OFFSET ?");
  int index = bind_filter(query, filter, range, 0);
  query.bind(++index, filter.limit);  // a negative limit means no limit, as in SQLite
  query.bind(++index, filter.offset);
  std::vector<TraceRow> rows;
  while (query.step()) rows.push_back(read_row(query));
  return rows;
}

int64_t TraceStore::count(const TraceFilter& filter) const {
  const IdRange range = id_range(db_, filter);
  SqliteStatement query(db_, std::string("SELECT count(*) FROM samples s") + kRowJoins + where_clause(filter, range));
  bind_filter(query, filter, range, 0);
  query.step();
  return query.column_int64(0);
}

int64_t TraceStore::count() const {
  SqliteStatement query(db_, "SELECT count(*) FROM samples");
  query.step();
  return query.column_int64(0);
}

std::optional<TraceRow> TraceStore::get(int64_t id) const {
  SqliteStatement query(db_, std::string(kRowSelect) + " FROM samples s" + kRowJoins + " WHERE s.id = ?");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_row(query);
}

std::vector<TraceRow> TraceStore::search(const std::string& text, const TraceFilter& filter, bool raw_fts) const {
  check_paging(filter);
  const std::string match = raw_fts ? text : all_words_query(text);
  R1_CHECK(!match.empty(), "search: no words to search for");
  R1_CHECK(index_attached_, path_, ": no full-text index beside it (", trace_index::path_for(path_),
           "); it is built by whatever writes the store: open it once for writing, e.g. r1 traces reindex --db ",
           path_);
  // A writer sees its own samples: index what is pending first.
  if (writable_)
    while (trace_index::index_pending(db_, 100000) > 0) {
    }
  const IdRange range = id_range(db_, filter);
  // FTS5 walks its matches in rowid order, newest first, so a page stops early however common the
  // words are; the filter is checked on each match.
  SqliteStatement query(db_, std::string(kRowSelect) + " FROM fts.samples_fts f JOIN samples s ON s.id = f.rowid" +
                                 kRowJoins + where_clause(filter, range) +
                                 " AND f.samples_fts MATCH ? ORDER BY f.rowid DESC LIMIT ? OFFSET ?");
  int index = bind_filter(query, filter, range, 0);
  query.bind(++index, match);
  query.bind(++index, filter.limit);
  query.bind(++index, filter.offset);
  std::vector<TraceRow> rows;
  try {
    while (query.step()) {
      rows.push_back(read_row(query));
      rows.back().snippet = snippet(rows.back().completion, text);
    }
  } catch (const InternalError& e) {
    // Only a raw query can be malformed; quoted words always parse.
    if (raw_fts) R1_FAIL("search: not a valid full-text query '", text, "': ", sqlite3_errmsg(db_));
    throw;
  }
  return rows;
}

int64_t TraceStore::index_pending(int64_t max_rows) {
  R1_CHECK(writable_, path_, ": opened read-only, cannot index");
  int64_t total = 0;
  for (;;) {
    const int64_t batch = max_rows < 0 ? 100000 : std::min<int64_t>(100000, max_rows - total);
    if (batch <= 0) break;
    const int64_t done = trace_index::index_pending(db_, batch);
    total += done;
    if (done < batch) break;
  }
  return total;
}

int64_t TraceStore::rebuild_index() {
  R1_CHECK(writable_, path_, ": opened read-only, cannot index");
  return trace_index::rebuild(db_);
}

int64_t TraceStore::unindexed() const { return index_attached_ ? trace_index::pending(db_) : count(); }

std::vector<StepStats> TraceStore::stats(const std::optional<std::string>& stage, std::optional<int64_t> run_id) const {
  std::string where = " WHERE 1";
  if (run_id) where += " AND g.run_id = ?";
  if (stage) where += " AND g.name = ?";
  const auto bind_where = [&](SqliteStatement& query) {
    int index = 0;
    if (run_id) query.bind(++index, *run_id);
    if (stage) query.bind(++index, *stage);
  };
  constexpr const char* kJoin = " FROM samples s JOIN steps t ON t.id = s.step_id JOIN stages g ON g.id = t.stage_id";
  // Three queries, one snapshot: a run committing between them must not add a step to the later ones.
  SqliteTransaction snapshot(db_, SqliteTransaction::Kind::read);
  // Distributions as count, mean, mean square, min, max (aggregates skip NULLs: unknown values).
  SqliteStatement totals(
      db_, std::string("SELECT s.step_id, g.name, t.step, count(*),"
                       " count(s.reward), avg(s.reward), avg(s.reward * s.reward), min(s.reward), max(s.reward),"
                       " count(s.completion_tokens), avg(s.completion_tokens),"
                       " avg(s.completion_tokens * s.completion_tokens), min(s.completion_tokens),"
                       " max(s.completion_tokens),"
                       " count(s.language_share), avg(s.language_share), avg(s.language_share * s.language_share),"
                       " min(s.language_share), max(s.language_share),"
                       " avg(CASE WHEN s.outcome IS NULL OR s.outcome = '' THEN NULL ELSE s.outcome = 'pass' END),"
                       " avg(s.finish_reason = 'length'), total(s.accepted = 1), total(s.accepted = 0),"
                       " count(CASE WHEN s.outcome IS NULL OR s.outcome = '' THEN NULL ELSE 1 END)") +
               kJoin + where + " GROUP BY s.step_id ORDER BY g.id, t.step");
  bind_where(totals);
  std::vector<StepStats> result;
  std::map<int64_t, std::size_t> position;  // step row id -> index in result
  while (totals.step()) {
    StepStats row;
    row.stage = totals.column_text(1);
    row.step = totals.column_int64(2);
    row.count = totals.column_int64(3);
    row.reward = distribution(totals, 4);
    row.tokens = distribution(totals, 9);
    row.language = distribution(totals, 14);
    row.pass_rate = totals.column_double(19);
    row.truncated_share = totals.is_null(20) ? 0.0 : totals.column_double(20);
    row.accepted = int64_t(totals.column_double(21));
    row.rejected = int64_t(totals.column_double(22));
    row.graded = totals.column_int64(23);
    position[totals.column_int64(0)] = result.size();
    result.push_back(std::move(row));
  }

  SqliteStatement rejections(db_, std::string("SELECT s.step_id, s.rejection_reason, count(*)") + kJoin + where +
                                      " AND s.rejection_reason IS NOT NULL GROUP BY s.step_id, s.rejection_reason");
  bind_where(rejections);
  while (rejections.step())
    result[position.at(rejections.column_int64(0))].rejections[rejections.column_text(1)] = rejections.column_int64(2);

  // A component's mean is over the samples that have it.
  SqliteStatement components(db_, std::string("SELECT s.step_id, j.key, avg(j.value), count(j.value)") + kJoin +
                                      ", json_each(s.components) j" + where + " GROUP BY s.step_id, j.key");
  bind_where(components);
  while (components.step()) {
    auto& row = result[position.at(components.column_int64(0))];
    row.mean_components[components.column_text(1)] = components.column_double(2);
    row.component_counts[components.column_text(1)] = components.column_int64(3);
  }
  return result;
}

std::vector<StepMetrics> TraceStore::step_metrics(const std::optional<std::string>& stage,
                                                  std::optional<int64_t> run_id) const {
  std::string sql =
      "SELECT m.step_id, g.name, t.step, m.name, m.value FROM step_metrics m JOIN steps t ON t.id = m.step_id"
      " JOIN stages g ON g.id = t.stage_id WHERE 1";
  if (run_id) sql += " AND g.run_id = ?";
  if (stage) sql += " AND g.name = ?";
  SqliteStatement query(db_, sql + " ORDER BY g.id, t.step");
  int index = 0;
  if (run_id) query.bind(++index, *run_id);
  if (stage) query.bind(++index, *stage);
  std::vector<StepMetrics> out;
  int64_t current = -1;
  while (query.step()) {
    if (query.column_int64(0) != current) {
      current = query.column_int64(0);
      out.push_back({query.column_text(1), query.column_int64(2), {}});
    }
    out.back().values[query.column_text(3)] = query.column_double(4);
  }
  return out;
}

std::vector<std::string> TraceStore::stage_names() const {
  // A name once, at the position of its first start (several runs may share a stage name).
  SqliteStatement query(db_, "SELECT name FROM stages GROUP BY name ORDER BY min(id)");
  std::vector<std::string> out;
  while (query.step()) out.push_back(query.column_text(0));
  return out;
}

}  // namespace r1::sampling
