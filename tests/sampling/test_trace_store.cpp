// Tests for the SQLite trace store (schema v2): inserts, get, list with every filter, sorting and
// keyset paging, stats and combine against values computed here, step metrics, runs, transactions,
// truncate_stage on resume, hostile strings and odd numbers, refusals of foreign or newer files,
// and that the stock sqlite3 shell can read the views.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <regex>
#include <set>

#include "common/error.h"
#include "sampling/trace_store.h"
#include "tests/sampling/temp_dir.h"
#include "tests/sampling/trace_test_util.h"

using namespace r1::sampling;
using namespace r1::sampling::testing;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Deterministic records whose values are easy to recompute from the index. Two stages interleave;
// prompt text depends on the prompt index only (a prompt is stored once per stage and index).
TraceRecord make_record(int i) {
  TraceRecord r;
  r.stage = i % 3 == 0 ? "reasoning_rl" : "zero";
  r.step = i / 100;
  r.prompt_index = i / 8;
  r.sample_index = i % 8;
  r.prompt = "What is " + std::to_string(i / 8) + " + 1?";
  r.reference = std::to_string(i / 8 + 1);
  r.completion = "<think>" + std::to_string(i) + " + 1 = " + std::to_string(i + 1) + ".</think> <answer>" +
                 std::to_string(i + 1) + "</answer>";
  r.prompt_tokens = 5 + i % 4;
  r.completion_tokens = 10 + i % 13;
  r.finish_reason = i % 10 == 0 ? "length" : "stop";
  r.reward = i % 97 == 5 ? kNaN : (i % 7) * 0.25 - 0.5;
  r.components["accuracy"] = i % 2;
  r.components["format"] = (i % 5) * 0.1;
  if (i % 4 == 0) r.components["language"] = (i % 3) * 0.5;  // only some samples have it
  r.outcome = i % 17 == 0 ? "" : i % 2 ? "pass" : "fail";  // some are not graded
  r.reason = r.outcome == "fail" ? "wrong answer" : "";
  r.advantage = (i % 9) - 4.0;
  if (i % 5 != 0) r.accepted = i % 5 < 3;  // i % 5 == 0: not judged
  if (r.accepted == false) r.rejection_reason = i % 2 ? "incorrect" : "mixed_language";
  r.language_share = i % 6 == 0 ? kNaN : (i % 11) / 10.0;
  r.logprob_mean = -0.01 * i;
  r.logprob_min = -0.05 * i - 1.0;
  r.seed = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL;  // many above 2^63
  return r;
}

// The row the store gives back for make_record(i): the reasoning and the answer cut from the completion.
TraceRow stored_record(int i) {
  TraceRow r;
  static_cast<TraceRecord&>(r) = make_record(i);
  r.reasoning = std::to_string(i) + " + 1 = " + std::to_string(i + 1) + ".";
  r.answer = std::to_string(i + 1);
  return r;
}

std::vector<TraceRecord> make_records(int count) {
  std::vector<TraceRecord> records;
  for (int i = 0; i < count; ++i) records.push_back(make_record(i));
  return records;
}

void check_same(const TraceRecord& got, const TraceRecord& want) {
  CHECK(got.stage == want.stage);
  CHECK(got.step == want.step);
  CHECK(got.prompt_index == want.prompt_index);
  CHECK(got.sample_index == want.sample_index);
  CHECK(got.prompt == want.prompt);
  CHECK(got.reference == want.reference);
  CHECK(got.completion == want.completion);
  CHECK(got.prompt_tokens == want.prompt_tokens);
  CHECK(got.completion_tokens == want.completion_tokens);
  CHECK(got.finish_reason == want.finish_reason);
  CHECK_MESSAGE(same(got.reward, want.reward), got.reward, " vs ", want.reward);
  CHECK_MESSAGE(same(got.components, want.components), describe(got.components), " vs ", describe(want.components));
  CHECK(got.outcome == want.outcome);
  CHECK(got.reason == want.reason);
  CHECK_MESSAGE(same(got.advantage, want.advantage), got.advantage, " vs ", want.advantage);
  CHECK(got.accepted == want.accepted);
  CHECK(got.rejection_reason == want.rejection_reason);
  CHECK_MESSAGE(same(got.language_share, want.language_share), got.language_share, " vs ", want.language_share);
  CHECK_MESSAGE(same(got.logprob_mean, want.logprob_mean), got.logprob_mean, " vs ", want.logprob_mean);
  CHECK_MESSAGE(same(got.logprob_min, want.logprob_min), got.logprob_min, " vs ", want.logprob_min);
  CHECK(got.seed == want.seed);
}

void check_row(const TraceRow& got, const TraceRow& want) {
  check_same(got, want);
  CHECK(got.reasoning == want.reasoning);
  CHECK(got.answer == want.answer);
}

std::string trimmed(const std::string& text) {
  const std::size_t begin = text.find_first_not_of(" \t\n\r\f\v");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\n\r\f\v") - begin + 1);
}

std::vector<int64_t> ids_of(const std::vector<TraceRow>& rows) {
  std::vector<int64_t> ids;
  for (const auto& row : rows) ids.push_back(row.id);
  return ids;
}

// Ids (1-based, inserted in order into a fresh file) of the records that pass `keep`.
std::vector<int64_t> expected_ids(const std::vector<TraceRecord>& records,
                                  const std::function<bool(const TraceRecord&)>& keep) {
  std::vector<int64_t> ids;
  for (std::size_t i = 0; i < records.size(); ++i)
    if (keep(records[i])) ids.push_back(static_cast<int64_t>(i) + 1);
  return ids;
}

// The distribution of `values` as the store defines it: population standard deviation.
Distribution distribution_of(const std::vector<double>& values) {
  Distribution d;
  d.count = static_cast<int64_t>(values.size());
  if (values.empty()) return d;
  d.mean = std::accumulate(values.begin(), values.end(), 0.0) / double(values.size());
  double square = 0;
  for (double v : values) square += (v - d.mean) * (v - d.mean);
  d.stddev = std::sqrt(square / double(values.size()));
  d.min = *std::min_element(values.begin(), values.end());
  d.max = *std::max_element(values.begin(), values.end());
  return d;
}

void check_distribution(const Distribution& got, const Distribution& want, const char* what) {
  CAPTURE(what);
  CHECK(got.count == want.count);
  if (want.count == 0) {
    CHECK(std::isnan(got.mean));
    CHECK(std::isnan(got.stddev));
    CHECK(std::isnan(got.min));
    CHECK(std::isnan(got.max));
    return;
  }
  CHECK(got.mean == doctest::Approx(want.mean).epsilon(1e-9));
  CHECK(got.stddev == doctest::Approx(want.stddev).epsilon(1e-6));
  CHECK(got.min == want.min);
  CHECK(got.max == want.max);
}

// Stats over a set of samples, computed here from the records, as StepStats documents them.
StepStats expected_stats(const std::vector<const TraceRecord*>& samples) {
  StepStats s;
  std::vector<double> reward, tokens, language;
  int64_t graded = 0, passed = 0, truncated = 0;
  std::map<std::string, std::pair<double, int64_t>> components;
  for (const TraceRecord* r : samples) {
    ++s.count;
    if (!std::isnan(r->reward)) reward.push_back(r->reward);
    tokens.push_back(double(r->completion_tokens));
    if (!std::isnan(r->language_share)) language.push_back(r->language_share);
    if (!r->outcome.empty()) {
      ++graded;
      passed += r->outcome == "pass";
    }
    truncated += r->finish_reason == "length";
    if (r->accepted == true) ++s.accepted;
    if (r->accepted == false) ++s.rejected;
    if (!r->rejection_reason.empty()) ++s.rejections[r->rejection_reason];
    for (const auto& [name, value] : r->components) {
      components[name].first += value;
      ++components[name].second;
    }
  }
  s.reward = distribution_of(reward);
  s.tokens = distribution_of(tokens);
  s.language = distribution_of(language);
  s.pass_rate = graded > 0 ? double(passed) / double(graded) : kNaN;
  s.truncated_share = s.count > 0 ? double(truncated) / double(s.count) : 0.0;
  for (const auto& [name, sum] : components) s.mean_components[name] = sum.first / double(sum.second);
  return s;
}

void check_stats(const StepStats& got, const StepStats& want) {
  CAPTURE(got.stage);
  CAPTURE(got.step);
  CHECK(got.count == want.count);
  check_distribution(got.reward, want.reward, "reward");
  check_distribution(got.tokens, want.tokens, "tokens");
  check_distribution(got.language, want.language, "language");
  if (std::isnan(want.pass_rate)) CHECK(std::isnan(got.pass_rate));
  else CHECK(got.pass_rate == doctest::Approx(want.pass_rate).epsilon(1e-9));
  CHECK(got.truncated_share == doctest::Approx(want.truncated_share).epsilon(1e-9));
  CHECK(got.accepted == want.accepted);
  CHECK(got.rejected == want.rejected);
  CHECK(got.rejections == want.rejections);
  REQUIRE(got.mean_components.size() == want.mean_components.size());
  for (const auto& [name, mean] : want.mean_components) {
    CAPTURE(name);
    REQUIRE(got.mean_components.count(name) == 1);
    CHECK(got.mean_components.at(name) == doctest::Approx(mean).epsilon(1e-9));
  }
}

// The ids of `records` (ids 1..n) ordered as list() documents: by the key, then by id; NULL
// (NaN) keys first, as SQLite orders them ascending; descending is the exact reverse.
std::vector<int64_t> sorted_ids(const std::vector<TraceRecord>& records, std::vector<int64_t> ids, TraceSort sort,
                                bool descending) {
  const auto key = [&](int64_t id) -> double {
    const TraceRecord& r = records[std::size_t(id - 1)];
    double k = 0;
    switch (sort) {
      case TraceSort::id: k = 0; break;
      case TraceSort::step: k = double(r.step); break;
      case TraceSort::reward: k = r.reward; break;
      case TraceSort::tokens: k = double(r.completion_tokens); break;
      case TraceSort::language: k = r.language_share; break;
    }
    return std::isnan(k) ? -std::numeric_limits<double>::infinity() : k;
  };
  std::stable_sort(ids.begin(), ids.end(), [&](int64_t a, int64_t b) {
    const double ka = key(a), kb = key(b);
    return ka != kb ? ka < kb : a < b;
  });
  if (descending) std::reverse(ids.begin(), ids.end());
  return ids;
}

const char* sort_name(TraceSort sort) {
  switch (sort) {
    case TraceSort::id: return "id";
    case TraceSort::step: return "step";
    case TraceSort::reward: return "reward";
    case TraceSort::tokens: return "tokens";
    case TraceSort::language: return "language";
  }
  return "?";
}

TraceFilter all_rows() {
  TraceFilter filter;
  filter.limit = -1;
  return filter;
}

}  // namespace

TEST_CASE("a new trace store is empty and has schema v2") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceStore store(path);
  CHECK(store.schema_version() == 2);
  CHECK(TraceStore::kSchemaVersion == 2);
  CHECK(store.path() == path);
  CHECK(store.count() == 0);
  CHECK(store.count(all_rows()) == 0);
  CHECK(store.list({}).empty());
  CHECK(store.stats().empty());
  CHECK(store.step_metrics().empty());
  CHECK(store.stage_names().empty());
  CHECK(store.runs().empty());
  CHECK_FALSE(store.get(1).has_value());
  CHECK_FALSE(store.last_step(1, "zero").has_value());
  CHECK(std::filesystem::exists(path));
  CHECK(raw_rows(path, "SELECT value FROM meta WHERE key = 'schema_version'") == std::vector<std::string>{"2"});
}

TEST_CASE("trace_sort_named knows every sort and nothing else") {
  CHECK(trace_sort_named("id") == TraceSort::id);
  CHECK(trace_sort_named("step") == TraceSort::step);
  CHECK(trace_sort_named("reward") == TraceSort::reward);
  CHECK(trace_sort_named("tokens") == TraceSort::tokens);
  CHECK(trace_sort_named("length") == TraceSort::tokens);
  CHECK(trace_sort_named("language") == TraceSort::language);
  CHECK_FALSE(trace_sort_named("").has_value());
  CHECK_FALSE(trace_sort_named("Reward").has_value());
  CHECK_FALSE(trace_sort_named("id; DROP TABLE samples").has_value());
}

TEST_CASE("runs: begin_run keeps the id of a name, runs() lists them with their stages") {
  TempDir dir;
  TraceStore store(dir.file("traces.db"));
  const int64_t first = store.begin_run("tiny-zero", "stage: zero\n");
  const int64_t second = store.begin_run("other", "");
  CHECK(first != second);
  CHECK(store.begin_run("tiny-zero", "a different config") == first);  // a resumed run keeps its id
  CHECK(store.begin_run("other", "") == second);
  store.add_step_metrics(first, "pretrain", 10, {{"loss", 1.5}});
  store.add_samples(first, {make_record(1)});  // zero
  store.add_samples(second, {make_record(0)});  // reasoning_rl
  store.add_samples(first, {make_record(3)});   // reasoning_rl, after zero in this run
  const auto runs = store.runs();
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].id == first);
  CHECK(runs[0].name == "tiny-zero");
  CHECK(runs[0].stages == std::vector<std::string>{"pretrain", "zero", "reasoning_rl"});
  CHECK(std::regex_match(runs[0].created_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  CHECK(runs[1].id == second);
  CHECK(runs[1].name == "other");
  CHECK(runs[1].stages == std::vector<std::string>{"reasoning_rl"});
  // Every stage once, in the order it first started (across runs).
  CHECK(store.stage_names() == std::vector<std::string>{"pretrain", "zero", "reasoning_rl"});
  CHECK(raw_rows(store.path(), "SELECT config FROM runs ORDER BY id") == std::vector<std::string>{"stage: zero\n", ""});
}

TEST_CASE("1000 traces: insert, get, list with each filter, sorts, paging, stats, reopen") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  const auto records = make_records(1000);
  int64_t run_id = 0, other_run = 0;
  {
    TraceStore store(path);
    run_id = store.begin_run("tiny-zero", "stage: zero\nlr: 1e-3\n");
    store.add_samples(run_id, records);
    CHECK(store.count() == 1000);

    SUBCASE("get returns every field") {
      for (int i : {0, 1, 5, 7, 8, 17, 499, 999}) {
        CAPTURE(i);
        const auto row = store.get(i + 1);
        REQUIRE(row.has_value());
        CHECK(row->id == i + 1);
        CHECK(row->run_id == run_id);
        CHECK(row->run_name == "tiny-zero");
        CHECK(row->snippet.empty());
        CHECK(std::regex_match(row->created_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
        check_row(*row, stored_record(i));
      }
      CHECK_FALSE(store.get(1001).has_value());
      CHECK_FALSE(store.get(0).has_value());
      CHECK_FALSE(store.get(-1).has_value());
    }

    SUBCASE("a prompt is stored once per stage and prompt index") {
      std::set<std::pair<std::string, int64_t>> prompts;
      for (const auto& r : records) prompts.insert({r.stage, r.prompt_index});
      CHECK(raw_count(path, "SELECT count(*) FROM prompts") == int64_t(prompts.size()));
      std::set<std::pair<std::string, int64_t>> steps;
      for (const auto& r : records) steps.insert({r.stage, r.step});
      CHECK(raw_count(path, "SELECT count(*) FROM steps") == int64_t(steps.size()));
      CHECK(raw_count(path, "SELECT count(*) FROM stages") == 2);
    }

    SUBCASE("list: default, limit and offset") {
      const auto first = store.list({});
      REQUIRE(first.size() == 20);
      for (int i = 0; i < 20; ++i) {
        CHECK(first[i].id == i + 1);
        check_row(first[i], stored_record(i));
      }
      TraceFilter page;
      page.limit = 5;
      page.offset = 995;
      CHECK(ids_of(store.list(page)) == std::vector<int64_t>{996, 997, 998, 999, 1000});
      page.offset = 1000;
      CHECK(store.list(page).empty());
      page.offset = 0;
      page.limit = 0;
      CHECK(store.list(page).empty());
      CHECK(store.list(all_rows()).size() == 1000);
      TraceFilter bad;
      bad.offset = -1;
      CHECK(error_of<r1::UserError>([&] { store.list(bad); }).find("offset") != std::string::npos);
    }

    SUBCASE("list and count: each filter") {
      struct Case {
        std::string name;
        std::function<void(TraceFilter&)> set;
        std::function<bool(const TraceRecord&)> keep;
      };
      const std::vector<Case> cases = {
          {"stage", [](TraceFilter& f) { f.stage = "zero"; }, [](const TraceRecord& r) { return r.stage == "zero"; }},
          {"min_step", [](TraceFilter& f) { f.min_step = 3; }, [](const TraceRecord& r) { return r.step >= 3; }},
          {"max_step", [](TraceFilter& f) { f.max_step = 2; }, [](const TraceRecord& r) { return r.step <= 2; }},
          {"min_reward", [](TraceFilter& f) { f.min_reward = 0.25; },
           [](const TraceRecord& r) { return r.reward >= 0.25; }},
          {"max_reward", [](TraceFilter& f) { f.max_reward = -0.25; },
           [](const TraceRecord& r) { return r.reward <= -0.25; }},
          {"accepted", [](TraceFilter& f) { f.accepted = true; },
           [](const TraceRecord& r) { return r.accepted == true; }},
          {"rejected", [](TraceFilter& f) { f.accepted = false; },
           [](const TraceRecord& r) { return r.accepted == false; }},
          {"rejection_reason", [](TraceFilter& f) { f.rejection_reason = "incorrect"; },
           [](const TraceRecord& r) { return r.rejection_reason == "incorrect"; }},
          {"finish_reason", [](TraceFilter& f) { f.finish_reason = "length"; },
           [](const TraceRecord& r) { return r.finish_reason == "length"; }},
          {"outcome pass", [](TraceFilter& f) { f.outcome = "pass"; },
           [](const TraceRecord& r) { return r.outcome == "pass"; }},
          {"outcome empty", [](TraceFilter& f) { f.outcome = ""; },
           [](const TraceRecord& r) { return r.outcome.empty(); }},
          {"language range", [](TraceFilter& f) { f.min_language = 0.3, f.max_language = 0.7; },
           [](const TraceRecord& r) { return r.language_share >= 0.3 && r.language_share <= 0.7; }},
          {"min_language", [](TraceFilter& f) { f.min_language = 0.9; },
           [](const TraceRecord& r) { return r.language_share >= 0.9; }},
          {"token range", [](TraceFilter& f) { f.min_tokens = 12, f.max_tokens = 15; },
           [](const TraceRecord& r) { return r.completion_tokens >= 12 && r.completion_tokens <= 15; }},
          {"max_tokens", [](TraceFilter& f) { f.max_tokens = 10; },
           [](const TraceRecord& r) { return r.completion_tokens <= 10; }},
          {"after_id", [](TraceFilter& f) { f.after_id = 990; }, [](const TraceRecord& r) { return false; }},
          {"run", [&](TraceFilter& f) { f.run_id = run_id; }, [](const TraceRecord&) { return true; }},
          {"other run", [&](TraceFilter& f) { f.run_id = run_id + 1; }, [](const TraceRecord&) { return false; }},
          {"no such stage", [](TraceFilter& f) { f.stage = "no such stage"; }, [](const TraceRecord&) { return false; }},
          {"every filter at once",
           [&](TraceFilter& f) {
             f.run_id = run_id;
             f.stage = "zero";
             f.min_step = 2;
             f.max_step = 7;
             f.min_reward = -0.25;
             f.max_reward = 0.75;
             f.min_tokens = 11;
             f.max_tokens = 20;
             f.min_language = 0.1;
             f.finish_reason = "stop";
           },
           [](const TraceRecord& r) {
             return r.stage == "zero" && r.step >= 2 && r.step <= 7 && r.reward >= -0.25 && r.reward <= 0.75 &&
                    r.completion_tokens >= 11 && r.completion_tokens <= 20 && r.language_share >= 0.1 &&
                    r.finish_reason == "stop";
           }},
      };
      for (const auto& c : cases) {
        CAPTURE(c.name);
        TraceFilter filter = all_rows();
        c.set(filter);
        auto want = expected_ids(records, c.keep);
        if (c.name == "after_id") want = {991, 992, 993, 994, 995, 996, 997, 998, 999, 1000};
        if (c.name != "other run" && c.name != "no such stage")
          CHECK_FALSE(want.empty());  // the case selects something
        const auto rows = store.list(filter);
        CHECK(ids_of(rows) == want);
        CHECK(store.count(filter) == int64_t(rows.size()));
        filter.limit = 3;  // count ignores paging
        filter.offset = 1;
        CHECK(store.count(filter) == int64_t(want.size()));
        const auto page = store.list(filter);
        CHECK(ids_of(page) == std::vector<int64_t>(want.begin() + std::min<std::size_t>(1, want.size()),
                                                   want.begin() + std::min<std::size_t>(4, want.size())));
      }
    }

    SUBCASE("sorts, ascending and descending, match a sort done here") {
      // Step sort is checked within one stage here, and across stages in its own test case.
      for (TraceSort sort : {TraceSort::id, TraceSort::step, TraceSort::reward, TraceSort::tokens, TraceSort::language}) {
        for (bool descending : {false, true}) {
          for (bool one_stage : {false, true}) {
            if (sort == TraceSort::step && !one_stage) continue;
            CAPTURE(sort_name(sort));
            CAPTURE(descending);
            CAPTURE(one_stage);
            TraceFilter filter = all_rows();
            filter.sort = sort;
            filter.descending = descending;
            if (one_stage) filter.stage = "zero";
            const auto want = sorted_ids(
                records, expected_ids(records, [&](const TraceRecord& r) { return !one_stage || r.stage == "zero"; }),
                sort, descending);
            CHECK(ids_of(store.list(filter)) == want);
            // A page of the sorted rows is the same slice.
            filter.limit = 7;
            filter.offset = 100;
            CHECK(ids_of(store.list(filter)) == std::vector<int64_t>(want.begin() + 100, want.begin() + 107));
          }
        }
      }
    }

    SUBCASE("after_id pages through every row once, both directions") {
      for (bool descending : {false, true}) {
        CAPTURE(descending);
        TraceFilter filter;
        filter.limit = 37;
        filter.descending = descending;
        filter.stage = "zero";
        std::vector<int64_t> seen;
        for (int pages = 0; pages < 100; ++pages) {
          const auto page = store.list(filter);
          if (page.empty()) break;
          CHECK(page.size() <= 37);
          for (const auto& row : page) seen.push_back(row.id);
          filter.after_id = page.back().id;
        }
        auto want = expected_ids(records, [](const TraceRecord& r) { return r.stage == "zero"; });
        if (descending) std::reverse(want.begin(), want.end());
        CHECK(seen == want);
      }
    }

    SUBCASE("stats per stage and step match values computed here") {
      std::map<std::pair<std::string, int64_t>, std::vector<const TraceRecord*>> groups;
      for (const auto& r : records) groups[{r.stage, r.step}].push_back(&r);
      const std::vector<std::string> stage_order = {"reasoning_rl", "zero"};  // the order they started
      const auto check_all = [&](const std::vector<StepStats>& stats, const std::optional<std::string>& stage) {
        std::vector<std::pair<std::string, int64_t>> want_keys;
        for (const auto& name : stage_order)
          for (const auto& [key, samples] : groups)
            if (key.first == name && (!stage || name == *stage)) want_keys.push_back(key);
        REQUIRE(stats.size() == want_keys.size());
        for (std::size_t i = 0; i < stats.size(); ++i) {
          CHECK(stats[i].stage == want_keys[i].first);
          CHECK(stats[i].step == want_keys[i].second);
          check_stats(stats[i], expected_stats(groups.at(want_keys[i])));
        }
      };
      check_all(store.stats(), std::nullopt);
      check_all(store.stats(std::nullopt, run_id), std::nullopt);
      check_all(store.stats("zero"), "zero");
      check_all(store.stats("reasoning_rl", run_id), "reasoning_rl");
      CHECK(store.stats("no such stage").empty());
      CHECK(store.stats(std::nullopt, run_id + 1).empty());
    }

    other_run = store.begin_run("second", "");
    CHECK(other_run != run_id);
    store.add_samples(other_run, {make_record(5000)});
    store.add_step_metrics(run_id, "zero", 3, {{"loss", 0.5}, {"kl", 0.01}});
    store.add_step_metrics(run_id, "zero", 3, {{"loss", 0.25}});  // a resumed run logs it again
    store.add_step_metrics(run_id, "zero", 1, {{"loss", 0.75}, {"nan", kNaN}});
    store.add_step_metrics(run_id, "pretrain", 20, {{"loss", 2.0}});
    store.add_step_metrics(other_run, "zero", 0, {{"loss", 9.0}});
  }

  // Reopened (and read-only): everything is still there.
  for (bool read_only : {false, true}) {
    CAPTURE(read_only);
    TraceStore store(path, read_only);
    CHECK(store.schema_version() == 2);
    CHECK(store.count() == 1001);
    const auto row = store.get(500);
    REQUIRE(row.has_value());
    check_row(*row, stored_record(499));
    TraceFilter filter;
    filter.run_id = other_run;
    const auto rows = store.list(filter);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].id == 1001);
    CHECK(rows[0].run_name == "second");
    check_row(rows[0], stored_record(5000));

    const auto metrics = store.step_metrics(std::nullopt, run_id);
    REQUIRE(metrics.size() == 3);
    // Stage start order (reasoning_rl has no metrics; zero started before pretrain here), then step.
    CHECK(metrics[0].stage == "zero");
    CHECK(metrics[0].step == 1);
    CHECK(metrics[0].values.size() == 2);
    CHECK(metrics[0].values.at("loss") == 0.75);
    CHECK(std::isnan(metrics[0].values.at("nan")));
    CHECK(metrics[1].stage == "zero");
    CHECK(metrics[1].step == 3);
    CHECK(metrics[1].values == std::map<std::string, double>{{"kl", 0.01}, {"loss", 0.25}});
    CHECK(metrics[2].stage == "pretrain");
    CHECK(metrics[2].step == 20);
    CHECK(metrics[2].values == std::map<std::string, double>{{"loss", 2.0}});
    const auto zero = store.step_metrics("zero");
    REQUIRE(zero.size() == 3);  // both runs
    CHECK(zero[2].step == 0);
    CHECK(zero[2].values == std::map<std::string, double>{{"loss", 9.0}});
    CHECK(store.step_metrics("zero", other_run).size() == 1);
    CHECK(store.step_metrics("no such stage").empty());
    CHECK(store.stage_names() == std::vector<std::string>{"reasoning_rl", "zero", "pretrain"});
    CHECK(store.last_step(run_id, "pretrain") == 20);
    CHECK(store.last_step(run_id, "zero") == 9);
    CHECK(store.last_step(other_run, "zero") == 50);
    CHECK_FALSE(store.last_step(other_run, "pretrain").has_value());
    if (read_only) CHECK_THROWS_AS(store.begin_run("nope", ""), r1::InternalError);
  }
  if (have_sqlite3_shell())
    CHECK(shell_output("/usr/bin/sqlite3 '" + path +
                       "' \"select name, value from step_metric_view where run_id = 1 and stage = 'zero' and step = 3"
                       " order by name\"") == "kl|0.01\nloss|0.25\n");
}

TEST_CASE("sort by step orders rows by step number across stages") {
  // Stage A writes steps 0 and 1, then stage B writes steps 0 and 1: a list sorted by step shows
  // both stages' step 0 before any step 1 (ties by id).
  TempDir dir;
  TraceStore store(dir.file("traces.db"));
  const int64_t run = store.begin_run("run", "");
  std::vector<TraceRecord> records;
  for (const char* stage : {"a", "b"})
    for (int step = 0; step < 2; ++step)
      for (int k = 0; k < 2; ++k) {
        TraceRecord r = make_record(k);
        r.stage = stage;
        r.step = step;
        r.sample_index = k;
        records.push_back(r);
      }
  store.add_samples(run, records);
  TraceFilter filter = all_rows();
  filter.sort = TraceSort::step;
  const std::vector<int64_t> ascending = {1, 2, 5, 6, 3, 4, 7, 8};
  CHECK(ids_of(store.list(filter)) == ascending);
  CHECK(ids_of(store.list(filter)) == sorted_ids(records, {1, 2, 3, 4, 5, 6, 7, 8}, TraceSort::step, false));
  filter.descending = true;
  CHECK(ids_of(store.list(filter)) == std::vector<int64_t>(ascending.rbegin(), ascending.rend()));
}

TEST_CASE("combine() of a stage's step rows equals stats over all its samples") {
  TempDir dir;
  TraceStore store(dir.file("traces.db"));
  const int64_t run = store.begin_run("run", "");

  SUBCASE("every sample has every component and an outcome") {
    std::vector<TraceRecord> records;
    for (int i = 0; i < 600; ++i) {
      TraceRecord r = make_record(i);
      r.components.erase("language");
      if (r.outcome.empty()) r.outcome = "error";
      records.push_back(r);
    }
    store.add_samples(run, records);
    for (const std::string stage : {"zero", "reasoning_rl"}) {
      CAPTURE(stage);
      std::vector<const TraceRecord*> samples;
      for (const auto& r : records)
        if (r.stage == stage) samples.push_back(&r);
      const auto rows = store.stats(stage);
      REQUIRE(rows.size() == 6);
      const StepStats combined = combine(rows);
      CHECK(combined.stage == stage);
      CHECK(combined.step == 0);
      check_stats(combined, expected_stats(samples));
    }
  }

  SUBCASE("some samples lack a component or an outcome: two steps by hand") {
    // Step 0: "c" = 1 on one of two samples, one graded "pass"; step 1: "c" = 0 on both, both
    // "fail". Over the union: c's mean is 1/3 (three samples have it), the pass rate 1/3 (three graded).
    std::vector<TraceRecord> records;
    for (int step = 0; step < 2; ++step)
      for (int k = 0; k < 2; ++k) {
        TraceRecord r = make_record(k);
        r.stage = "hand";
        r.step = step;
        r.components = step == 0 && k == 1 ? std::map<std::string, double>{} : std::map<std::string, double>{{"c", 1.0 - step}};
        r.outcome = step == 1 ? "fail" : k == 0 ? "pass" : "";
        records.push_back(r);
      }
    store.add_samples(run, records);
    const auto rows = store.stats("hand");
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].mean_components.at("c") == 1.0);
    CHECK(rows[0].pass_rate == 1.0);
    CHECK(rows[1].mean_components.at("c") == 0.0);
    CHECK(rows[1].pass_rate == 0.0);
    const StepStats combined = combine(rows);
    CHECK(combined.mean_components.at("c") == doctest::Approx(1.0 / 3));
    CHECK(combined.pass_rate == doctest::Approx(1.0 / 3));
  }

  SUBCASE("some samples lack a component or an outcome: 600 samples") {
    // The share of samples with the "language" component, and of graded samples, differs by step.
    auto records = make_records(600);
    for (int i = 0; i < 600; ++i) {
      TraceRecord& r = records[std::size_t(i)];
      if (i % (2 + int(r.step)) == 0) r.components["language"] = 0.1 * (i % 10) + 0.05 * double(r.step);
      else r.components.erase("language");
      r.outcome = i % (3 + int(r.step)) == 0 ? "" : i % 2 ? "pass" : "fail";
    }
    store.add_samples(run, records);
    for (const std::string stage : {"zero", "reasoning_rl"}) {
      CAPTURE(stage);
      std::vector<const TraceRecord*> samples;
      for (const auto& r : records)
        if (r.stage == stage) samples.push_back(&r);
      check_stats(combine(store.stats(stage)), expected_stats(samples));
    }
  }

  SUBCASE("empty and single rows") {
    const StepStats empty = combine({});
    CHECK(empty.count == 0);
    CHECK(empty.reward.count == 0);
    store.add_samples(run, make_records(50));
    const auto rows = store.stats("zero");
    REQUIRE(rows.size() == 1);
    const StepStats one = combine(rows);
    check_stats(one, rows[0]);
  }
}

TEST_CASE("add_samples is one transaction: a failure part-way leaves nothing behind") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceStore store(path);
  const int64_t run = store.begin_run("run", "");
  store.add_samples(run, make_records(20));
  store.add_step_metrics(run, "zero", 0, {{"loss", 1.0}});
  const auto table_counts = [&] {
    return raw_rows(path,
                    "SELECT (SELECT count(*) FROM samples), (SELECT count(*) FROM prompts),"
                    " (SELECT count(*) FROM steps), (SELECT count(*) FROM stages), (SELECT count(*) FROM step_metrics),"
                    " (SELECT count(*) FROM samples WHERE completion LIKE 'fresh%')");
  };
  const auto before = table_counts();

  SUBCASE("a duplicate (stage, step, prompt_index, sample_index) in the middle of a batch") {
    std::vector<TraceRecord> batch;
    for (int i = 0; i < 10; ++i) {
      TraceRecord r = make_record(1000 + i);
      r.stage = i < 5 ? "fresh" : r.stage;  // a new stage, new steps and prompts before the failure
      r.completion = "fresh text " + std::to_string(i);
      batch.push_back(r);
    }
    batch[6] = make_record(13);  // stored above: zero, step 0, prompt 1, sample 5
    const std::string error = error_of<r1::UserError>([&] { store.add_samples(run, batch); });
    CHECK(error.find(path) != std::string::npos);
    CHECK(error.find("stage 'zero' step 0 prompt 1 sample 5") != std::string::npos);
    CHECK(table_counts() == before);
    CHECK(store.count() == 20);
    CHECK(store.stage_names() == std::vector<std::string>{"reasoning_rl", "zero"});

    // The same batch without the duplicate goes in whole (no id of the rolled-back rows is reused).
    batch.erase(batch.begin() + 6);
    store.add_samples(run, batch);
    CHECK(store.count() == 29);
    TraceFilter fresh = all_rows();
    fresh.stage = "fresh";
    CHECK(store.count(fresh) == 5);
    const auto row = store.get(21);
    REQUIRE(row.has_value());
    CHECK(row->completion == "fresh text 0");
    CHECK(row->prompt == batch[0].prompt);
  }

  SUBCASE("a duplicate inside one batch") {
    auto batch = make_records(2);
    for (auto& r : batch) r.stage = "fresh";
    batch.push_back(batch[1]);
    const std::string error = error_of<r1::UserError>([&] { store.add_samples(run, batch); });
    CHECK(error.find("stage 'fresh' step 0 prompt 0 sample 1") != std::string::npos);
    CHECK(table_counts() == before);
  }

  SUBCASE("write() of samples and metrics is one transaction") {
    TraceStore::SamplesWrite good{run, {make_record(500)}};
    TraceStore::SamplesWrite duplicate{run, {make_record(3)}};
    CHECK_THROWS_AS(store.write({good, duplicate}, {{run, "zero", 7, {{"loss", 3.0}}}}), r1::UserError);
    CHECK(table_counts() == before);
    store.write({good}, {{run, "zero", 7, {{"loss", 3.0}}}});
    CHECK(store.count() == 21);
    CHECK(store.last_step(run, "zero") == 7);
  }

  SUBCASE("a failure of the third insert (a trigger's runtime error stands in for disk full)") {
    raw_sql(path,
            "CREATE TRIGGER boom BEFORE INSERT ON samples"
            " BEGIN SELECT CASE WHEN NEW.completion = 'boom' THEN abs(-9223372036854775807 - 1) END; END;");
    auto batch = make_records(3);
    for (auto& r : batch) r.step = 42;
    batch[2].completion = "boom";
    CHECK(error_of<r1::InternalError>([&] { store.add_samples(run, batch); }).find("integer overflow") !=
          std::string::npos);
    CHECK(table_counts() == before);
    batch[2].completion = "fine";
    store.add_samples(run, batch);
    CHECK(store.count() == 23);
  }

  SUBCASE("a run that does not exist breaks the foreign key, and the store stays usable") {
    auto batch = make_records(3);
    for (auto& r : batch) r.stage = "fresh";
    CHECK_THROWS_AS(store.add_samples(run + 41, batch), r1::InternalError);
    CHECK(table_counts() == before);
    // The next write (a new stage again) must not trip over the failed statement.
    CHECK_NOTHROW(store.add_samples(run, batch));
    CHECK(store.count() == 23);
    CHECK_THROWS_AS(store.add_step_metrics(run + 41, "fresh2", 0, {{"loss", 1.0}}), r1::InternalError);
    CHECK_NOTHROW(store.add_step_metrics(run, "fresh2", 0, {{"loss", 1.0}}));
    CHECK(store.last_step(run, "fresh2") == 0);
  }
}

TEST_CASE("a constraint failure that is not a duplicate key is reported as itself") {
  // A trigger (or a CHECK another tool added) aborting an insert is not "trace already stored".
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceStore store(path);
  const int64_t run = store.begin_run("run", "");
  raw_sql(path,
          "CREATE TRIGGER boom BEFORE INSERT ON samples WHEN NEW.completion = 'boom'"
          " BEGIN SELECT RAISE(ABORT, 'boom'); END;");
  auto batch = make_records(3);
  batch[2].completion = "boom";
  std::string error = "(no error)";
  try {
    store.add_samples(run, batch);
  } catch (const std::exception& e) {
    error = e.what();
  }
  CAPTURE(error);
  CHECK(error.find("boom") != std::string::npos);
  CHECK(error.find("already stored") == std::string::npos);
  CHECK(store.count() == 0);
}

TEST_CASE("truncate_stage deletes a stage's steps from first_step on, and they can be written again") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceStore store(path);
  const int64_t run = store.begin_run("run", "");
  const int64_t other = store.begin_run("other", "");
  // Stage zero steps 0..9 (6 samples each), reasoning_rl steps 0..9, in both runs; metrics per step.
  const auto make = [](const std::string& stage, int64_t step, int k) {
    TraceRecord r = make_record(k);
    r.stage = stage;
    r.step = step;
    r.prompt_index = k / 3;
    r.sample_index = k % 3;
    r.completion = stage + " step" + std::to_string(step) + " sample" + std::to_string(k) + " marker";
    return r;
  };
  for (int64_t step = 0; step < 10; ++step)
    for (int64_t run_id : {run, other}) {
      std::vector<TraceRecord> batch;
      for (const char* stage : {"zero", "reasoning_rl"})
        for (int k = 0; k < 6; ++k) batch.push_back(make(stage, step, k));
      store.add_samples(run_id, batch);
      store.add_step_metrics(run_id, "zero", step, {{"loss", double(step)}});
      store.add_step_metrics(run_id, "reasoning_rl", step, {{"loss", -double(step)}});
    }
  REQUIRE(store.count() == 240);
  CHECK(store.last_step(run, "zero") == 9);

  CHECK(store.truncate_stage(run, "zero", 6) == 24);  // steps 6..9, 6 samples each
  CHECK(store.count() == 216);
  CHECK(store.last_step(run, "zero") == 5);
  CHECK(store.last_step(run, "reasoning_rl") == 9);
  CHECK(store.last_step(other, "zero") == 9);
  TraceFilter filter = all_rows();
  filter.run_id = run;
  filter.stage = "zero";
  CHECK(store.count(filter) == 36);
  for (const auto& row : store.list(filter)) CHECK(row.step < 6);
  filter.run_id = other;
  CHECK(store.count(filter) == 60);
  filter.stage = "reasoning_rl";
  filter.run_id = run;
  CHECK(store.count(filter) == 60);
  const auto metrics = store.step_metrics("zero", run);
  REQUIRE(metrics.size() == 6);
  CHECK(metrics.back().step == 5);
  CHECK(store.step_metrics("reasoning_rl", run).size() == 10);
  CHECK(store.step_metrics("zero", other).size() == 10);
  CHECK(store.stats("zero", run).size() == 6);
  // Nothing of the deleted steps is left anywhere, the full-text index included.
  CHECK(raw_count(path,
                  "SELECT count(*) FROM steps t JOIN stages g ON g.id = t.stage_id"
                  " WHERE g.run_id = 1 AND g.name = 'zero' AND t.step >= 6") == 0);
  TraceFilter in_run;
  in_run.run_id = run;
  in_run.stage = "zero";
  in_run.limit = -1;
  CHECK(store.search("zero step7", in_run).empty());
  CHECK(store.search("zero step5", in_run).size() == 6);
  raw_sql(path + ".fts", "INSERT INTO samples_fts(samples_fts) VALUES ('integrity-check')");

  // Resumed from the checkpoint of step 5: steps 6.. are written again, with new text.
  for (int64_t step = 6; step < 8; ++step) {
    std::vector<TraceRecord> batch;
    for (int k = 0; k < 6; ++k) {
      TraceRecord r = make("zero", step, k);
      r.completion = "again step" + std::to_string(step);
      batch.push_back(r);
    }
    store.add_samples(run, batch);
    store.add_step_metrics(run, "zero", step, {{"loss", 100.0 + double(step)}});
  }
  CHECK(store.count() == 228);
  CHECK(store.last_step(run, "zero") == 7);
  filter.run_id = run;
  filter.stage = "zero";
  filter.min_step = 6;
  const auto again = store.list(filter);
  REQUIRE(again.size() == 12);
  for (const auto& row : again) CHECK(row.completion == "again step" + std::to_string(row.step));
  CHECK(store.step_metrics("zero", run).back().values.at("loss") == 107.0);

  // From step 0: the stage is empty; an unknown stage or run deletes nothing.
  CHECK(store.truncate_stage(run, "zero", 0) == 48);
  CHECK_FALSE(store.last_step(run, "zero").has_value());
  CHECK(store.step_metrics("zero", run).empty());
  CHECK(store.truncate_stage(run, "no such stage", 0) == 0);
  CHECK(store.truncate_stage(run + 10, "zero", 0) == 0);
  CHECK(store.count() == 180);
  store.add_samples(run, {make("zero", 0, 0)});
  CHECK(store.last_step(run, "zero") == 0);
}

TEST_CASE("hostile strings and odd numbers round-trip unchanged") {
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceStore store(path);
  const int64_t run = store.begin_run("run '\"; DROP TABLE runs; --", "a: 'b'\n\"c\": d\n");
  CHECK(store.runs().at(0).name == "run '\"; DROP TABLE runs; --");
  const std::string nul_text("before\0after\0", 13);
  const std::string megabyte = [] {
    std::string text;
    for (int i = 0; text.size() < (1u << 20); ++i) text += "word" + std::to_string(i) + " \xe2\x82\xac ";
    return text;
  }();
  struct Hostile {
    std::string text;
    bool json_key;  // also usable as a component name (valid UTF-8, no NUL)
  };
  const std::vector<Hostile> hostile = {
      {"'; DROP TABLE samples; --", true},
      {"\"double\" and 'single' quotes, back\\slash, %s %d, ? ?1 :name @x $y", true},
      {"Gr\xc3\xbc\xc3\x9f" "e, \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e, \xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\xa9",
       true},
      {"\xf0\x9f\x98\x80 emoji \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7 family", true},
      {"line one\nline two\r\n\ttabbed", true},
      {"", true},
      {nul_text, false},
      {"invalid \xff\xfe utf-8 \xc3\x28 and a lone \xed\xa0\x80 surrogate \xc0\xaf", false},
      {megabyte, true},
  };
  std::vector<TraceRecord> records;
  for (std::size_t i = 0; i < hostile.size(); ++i) {
    const std::string& text = hostile[i].text;
    TraceRecord r = make_record(int(i));
    r.stage = text;
    r.prompt = text;
    r.reference = text;
    r.completion = "<think>" + text + "</think> <answer>" + text + "</answer>";
    r.finish_reason = text;
    r.outcome = text;
    r.reason = text;
    r.rejection_reason = text.empty() ? "x" : text;
    r.components = {{"plain", 2.0}};
    if (hostile[i].json_key) r.components[text] = 1.0;
    records.push_back(r);
  }
  TraceRecord numbers = make_record(2);
  numbers.stage = "numbers";
  numbers.reward = kNaN;  // SQLite has no NaN: stored as NULL, read back as NaN
  numbers.advantage = -std::numeric_limits<double>::infinity();
  numbers.logprob_mean = std::numeric_limits<double>::denorm_min();
  numbers.logprob_min = -std::numeric_limits<double>::denorm_min() * 3;
  numbers.language_share = std::numeric_limits<double>::min();
  numbers.components = {{"nan", kNaN}, {"inf", std::numeric_limits<double>::infinity()},
                        {"denormal", std::numeric_limits<double>::denorm_min()}, {"max", std::numeric_limits<double>::max()}};
  numbers.seed = std::numeric_limits<uint64_t>::max();
  numbers.step = std::numeric_limits<int64_t>::min();
  numbers.prompt_index = std::numeric_limits<int64_t>::max();
  numbers.sample_index = -1;
  numbers.prompt_tokens = std::numeric_limits<int64_t>::min();
  numbers.completion_tokens = std::numeric_limits<int64_t>::max();
  records.push_back(numbers);
  store.add_samples(run, records);
  REQUIRE(store.count() == static_cast<int64_t>(records.size()));

  for (std::size_t i = 0; i < hostile.size(); ++i) {
    CAPTURE(i);
    const auto row = store.get(static_cast<int64_t>(i) + 1);
    REQUIRE(row.has_value());
    check_same(*row, records[i]);
    CHECK(row->completion.size() == 2 * hostile[i].text.size() + 33);
    CHECK(row->reasoning == trimmed(hostile[i].text));
    CHECK(row->answer == trimmed(hostile[i].text));
    TraceFilter filter;
    filter.stage = hostile[i].text;
    CHECK(ids_of(store.list(filter)) == std::vector<int64_t>{static_cast<int64_t>(i) + 1});
    filter = {};
    filter.outcome = hostile[i].text;
    filter.finish_reason = hostile[i].text;
    filter.rejection_reason = records[i].rejection_reason;
    CHECK(ids_of(store.list(filter)) == std::vector<int64_t>{static_cast<int64_t>(i) + 1});
    const auto stats = store.stats(hostile[i].text);
    REQUIRE(stats.size() == 1);
    CHECK(stats[0].stage == hostile[i].text);
    CHECK(stats[0].rejections == std::map<std::string, int64_t>{{records[i].rejection_reason, 1}});
    if (hostile[i].json_key) CHECK(stats[0].mean_components.count(hostile[i].text) == 1);
  }
  CHECK(raw_count(path, "SELECT count(*) FROM samples") == int64_t(records.size()));  // no table dropped
  CHECK(raw_count(path, "SELECT count(*) FROM runs") == 1);

  const auto row = store.get(static_cast<int64_t>(records.size()));
  REQUIRE(row.has_value());
  CHECK(std::isnan(row->reward));
  // NaN went in as NULL (SQLite has no NaN); infinities are REALs.
  CHECK(raw_rows(path, "SELECT reward IS NULL, typeof(advantage), typeof(language_share) FROM samples WHERE id = " +
                           std::to_string(row->id)) == std::vector<std::string>{"1|real|real"});
  CHECK(row->advantage == -std::numeric_limits<double>::infinity());
  CHECK(row->logprob_mean == std::numeric_limits<double>::denorm_min());
  CHECK(row->logprob_min == -std::numeric_limits<double>::denorm_min() * 3);
  CHECK(row->language_share == std::numeric_limits<double>::min());
  CHECK(row->seed == std::numeric_limits<uint64_t>::max());
  CHECK(row->step == std::numeric_limits<int64_t>::min());
  CHECK(row->prompt_index == std::numeric_limits<int64_t>::max());
  CHECK(row->sample_index == -1);
  CHECK(row->prompt_tokens == std::numeric_limits<int64_t>::min());
  CHECK(row->completion_tokens == std::numeric_limits<int64_t>::max());
  // Components: NaN and infinity have no JSON number (null, read back as NaN); the rest exact.
  CHECK(std::isnan(row->components.at("nan")));
  CHECK(std::isnan(row->components.at("inf")));
  CHECK(row->components.at("denormal") == std::numeric_limits<double>::denorm_min());
  CHECK(row->components.at("max") == std::numeric_limits<double>::max());
  TraceFilter nulls = all_rows();
  nulls.min_reward = -1e300;
  const auto known = std::count_if(records.begin(), records.end(), [](const TraceRecord& r) { return !std::isnan(r.reward); });
  CHECK(known < int64_t(records.size()) - 1);  // make_record(5) and `numbers` have none
  CHECK(store.count(nulls) == known);  // a NULL reward matches no range

  // A component name that is not UTF-8 is stored with U+FFFD in place of the stray bytes.
  TraceRecord stray = make_record(3);
  stray.stage = "stray";
  stray.components = {{"bad\xff", 1.0}};
  store.add_samples(run, {stray});
  CHECK(store.get(store.count())->components == std::map<std::string, double>{{"bad\xef\xbf\xbd", 1.0}});
}

TEST_CASE("the store refuses files it must not touch, naming them") {
  TempDir dir;

  SUBCASE("a file that is not a database") {
    const std::string content = std::string(4096, 'x') + "\nthis is not SQLite\n";
    const std::string path = dir.write("notes.db", content);
    for (bool read_only : {false, true}) {
      CAPTURE(read_only);
      const std::string error = error_of<r1::UserError>([&] { TraceStore store(path, read_only); });
      CHECK(error.find(path) != std::string::npos);
      CHECK(error.find("not an SQLite database") != std::string::npos);
      CHECK(file_bytes(path) == content);
    }
  }

  SUBCASE("a database of some other program") {
    const std::string path = dir.file("other.db");
    raw_sql(path, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'a')");
    for (bool read_only : {true, false}) {
      CAPTURE(read_only);
      const std::string error = error_of<r1::UserError>([&] { TraceStore store(path, read_only); });
      CHECK(error.find(path) != std::string::npos);
      CHECK(error.find("not an r1 trace database") != std::string::npos);
    }
    CHECK(raw_rows(path, "SELECT name FROM sqlite_master") == std::vector<std::string>{"customers"});
  }

  SUBCASE("a database with a meta table that is not ours") {
    const std::string path = dir.file("meta.db");
    raw_sql(path, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('owner', 'x')");
    const std::string error = error_of<r1::UserError>([&] { TraceStore store(path); });
    CHECK(error.find(path) != std::string::npos);
    CHECK(error.find("not an r1 trace database") != std::string::npos);
    raw_sql(path, "INSERT INTO meta VALUES ('schema_version', 'two')");
    CHECK(error_of<r1::UserError>([&] { TraceStore store(path, true); }).find("schema_version 'two'") !=
          std::string::npos);
  }

  SUBCASE("a schema newer than this r1") {
    const std::string path = dir.file("newer.db");
    { TraceStore store(path); }
    raw_sql(path, "UPDATE meta SET value = '3' WHERE key = 'schema_version'");
    for (bool read_only : {false, true}) {
      CAPTURE(read_only);
      const std::string error = error_of<r1::UserError>([&] { TraceStore store(path, read_only); });
      CHECK(error.find(path) != std::string::npos);
      CHECK(error.find("schema version 3 is newer") != std::string::npos);
    }
    CHECK(raw_rows(path, "SELECT value FROM meta WHERE key = 'schema_version'") == std::vector<std::string>{"3"});
  }

  SUBCASE("read-only on a missing file creates nothing") {
    const std::string path = dir.file("absent.db");
    const std::string error = error_of<r1::UserError>([&] { TraceStore store(path, true); });
    CHECK(error.find(path) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(path));
  }

  SUBCASE("read-only on an empty file") {
    const std::string path = dir.write("empty.db", "");
    const std::string error = error_of<r1::UserError>([&] { TraceStore store(path, true); });
    CHECK(error.find(path) != std::string::npos);
    CHECK(file_bytes(path).empty());
  }

  SUBCASE("a directory that does not exist") {
    const std::string path = dir.file("no/such/dir/traces.db");
    CHECK(error_of<r1::UserError>([&] { TraceStore store(path); }).find(path) != std::string::npos);
  }
}

TEST_CASE("refusing another program's database leaves the file byte-identical") {
  // The journal mode is part of the file (header bytes 18 and 19): switching someone else's
  // database to WAL before finding it is not ours changes it.
  TempDir dir;
  const std::string path = dir.file("other.db");
  raw_sql(path, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'a')");
  const std::string before = file_bytes(path);
  CHECK_THROWS_AS(TraceStore(path, false), r1::UserError);
  const bool unchanged = file_bytes(path) == before;
  CHECK(unchanged);
  CHECK(raw_rows(path, "PRAGMA journal_mode") == std::vector<std::string>{"delete"});
}

TEST_CASE("the stock sqlite3 shell reads sample_view, step_metric_view and the components JSON") {
  if (!have_sqlite3_shell()) {
    MESSAGE("skipped: /usr/bin/sqlite3 is absent, so the shell cannot be checked");
    return;
  }
  TempDir dir;
  const std::string path = dir.file("traces.db");
  TraceStore store(path);  // left open: the shell reads a live WAL database, as during training
  const int64_t run = store.begin_run("run", "");
  store.add_samples(run, make_records(137));
  store.add_step_metrics(run, "zero", 1, {{"loss", 0.5}, {"kl", 0.125}});
  const std::string shell = "/usr/bin/sqlite3 '" + path + "' ";  // the temp path has no quote in it
  CHECK(shell_output(shell + "\"select count(*) from sample_view\"") == "137\n");
  CHECK(shell_output(shell + "\"select count(*) from sample_view where stage = 'zero'\"") ==
        std::to_string(137 - 46) + "\n");

  const std::string lines =
      shell_output(shell + "\"select id, stage, step, reward, components from sample_view limit 5\"");
  CHECK(std::count(lines.begin(), lines.end(), '\n') == 5);
  const std::string components = shell_output(shell + "\"select components from sample_view where id = 1\"");
  const auto parsed = nlohmann::json::parse(components);
  CHECK(parsed.get<std::map<std::string, double>>() == make_record(0).components);
  CHECK(shell_output(shell + "\"select json_extract(components, '$.accuracy'), json_extract(components, '$.format')"
                             " from sample_view where id = 4\"") == "1.0|0.3\n");
  CHECK(shell_output(shell + "\"select count(*) from sample_view where json_extract(components, '$.accuracy') = 1\"") ==
        "68\n");
  CHECK(shell_output(shell + "\"select run_name, stage, step, prompt_index, sample_index, prompt, reasoning, answer,"
                             " accepted, rejection_reason from sample_view where id = 10\"") ==
        "run|reasoning_rl|0|1|1|What is 1 + 1?|9 + 1 = 10.|10|0|incorrect\n");
  CHECK(shell_output(shell + "\"select run_name, stage, step, name, value from step_metric_view order by name\"") ==
        "run|zero|1|kl|0.125\nrun|zero|1|loss|0.5\n");
  // The view cuts reasoning and answer out of the completion by byte range, multibyte text included.
  TraceRecord wide = make_record(1000);
  wide.completion = "\xe2\x82\xac <think> Gr\xc3\xbc\xc3\x9f" "e \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80</think>"
                    "<answer>\xc3\xa9t\xc3\xa9 5</answer>";
  store.add_samples(run, {wide});
  CHECK(shell_output(shell + "\"select reasoning, answer from sample_view where id = 138\"") ==
        "Gr\xc3\xbc\xc3\x9f" "e \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80|\xc3\xa9t\xc3\xa9 5\n");
  CHECK(store.get(138)->reasoning == "Gr\xc3\xbc\xc3\x9f" "e \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
  CHECK(shell_output(shell + "\"pragma journal_mode\"") == "wal\n");
}
