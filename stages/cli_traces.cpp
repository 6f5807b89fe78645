// `r1 traces list|show|search|stats|export|reindex`: reading the SQLite trace store from the terminal.
// Opens the database read-only (an older schema is migrated first); every filter is a bound value.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "common/error.h"
#include "sampling/trace_json.h"
#include "sampling/trace_store.h"
#include "stages/cli.h"

namespace r1::cli {

namespace {

struct TraceOptions {
  std::string db;
  sampling::TraceFilter filter;
  std::string accepted = "any";  // any | yes | no
  std::string sort = "id";
  bool descending = false;
  int64_t id = 0;
  std::string text;
  bool raw_fts = false;
  bool per_stage = false;
  bool json = false;
  std::string color = "auto";
  std::string output = "-";
  int64_t export_limit = -1;  // export's default is everything
};

// Finishes the filter from the options that need checking. UserError (exit 2) on a bad value.
sampling::TraceFilter resolved_filter(const TraceOptions& o) {
  sampling::TraceFilter filter = o.filter;
  if (o.accepted == "yes") filter.accepted = true;
  else if (o.accepted == "no") filter.accepted = false;
  else R1_CHECK(o.accepted == "any", "--accepted: expected any, yes or no, got '", o.accepted, "'");
  const auto sort = sampling::trace_sort_named(o.sort);
  R1_CHECK(sort.has_value(), "--sort: expected id, step, reward, tokens or language, got '", o.sort, "'");
  filter.sort = *sort;
  filter.descending = o.descending;
  R1_CHECK(filter.offset >= 0, "--offset must be >= 0, got ", filter.offset);
  return filter;
}

bool use_color(const std::string& mode) {
  R1_CHECK(mode == "auto" || mode == "always" || mode == "never", "--color: expected auto, always or never, got '",
           mode, "'");
  return mode == "always" || (mode == "auto" && isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr);
}

std::string one_line(const std::string& text, std::size_t width) {
  std::string out;
  for (char c : text) out += (c == '\n' || c == '\t' || c == '\r') ? ' ' : c;
  if (out.size() > width) out = out.substr(0, width - 3) + "...";
  return out;
}


std::string verdict(const sampling::TraceRow& row) {
  if (!row.accepted) return "-";
  return *row.accepted ? "accepted" : "rejected:" + row.rejection_reason;
}

void print_rows(const std::vector<sampling::TraceRow>& rows, bool json, bool snippets) {
  if (json) {
    for (const auto& row : rows) std::cout << to_json_text(sampling::trace_json(row)) << "\n";
    return;
  }
  std::printf("%8s %-14s %5s %7s %6s %5s %-8s  %s\n", "id", "stage", "step", "reward", "tokens", "lang", "verdict",
              snippets ? "match" : "completion");
  for (const auto& row : rows) {
    char language[16] = "-";
    if (std::isfinite(row.language_share)) std::snprintf(language, sizeof language, "%.2f", row.language_share);
    std::printf("%8lld %-14s %5lld %7.3f %6lld %5s %-8s  %s\n", (long long)row.id, row.stage.c_str(),
                (long long)row.step, row.reward, (long long)row.completion_tokens, language,
                one_line(verdict(row), 8).c_str(), one_line(snippets ? row.snippet : row.completion, 60).c_str());
  }
}

void list(const TraceOptions& o) {
  const auto filter = resolved_filter(o);
  sampling::TraceStore store(o.db, /*read_only=*/true);
  print_rows(store.list(filter), o.json, false);
  if (!o.json) {
    const int64_t total = store.count(filter);
    std::printf("(%lld matching; showing %lld from offset %lld)\n", (long long)total,
                (long long)std::min<int64_t>(filter.limit < 0 ? total : filter.limit,
                                             std::max<int64_t>(0, total - filter.offset)),
                (long long)filter.offset);
  }
}

void search(const TraceOptions& o) {
  const auto filter = resolved_filter(o);
  sampling::TraceStore store(o.db, /*read_only=*/true);
  print_rows(store.search(o.text, filter, o.raw_fts), o.json, true);
  // The index trails a run that is writing by up to a couple of seconds: say so rather than hide it.
  if (const int64_t behind = store.unindexed(); behind > 0)
    std::fprintf(stderr, "note: %lld newest traces are not indexed yet (a run is writing, or run r1 traces reindex)\n",
                 (long long)behind);
}

void reindex(const TraceOptions& o) {
  sampling::TraceStore store(o.db);
  std::printf("indexed %lld traces\n", (long long)store.rebuild_index());
}

void show(const TraceOptions& o) {
  sampling::TraceStore store(o.db, true);
  const auto row = store.get(o.id);
  R1_CHECK(row.has_value(), o.db, ": no trace with id ", o.id);
  if (o.json) {
    std::cout << to_json_text(sampling::trace_json(*row), 2) << "\n";
    return;
  }
  const bool color = use_color(o.color);
  const auto paint = [&](const char* code, const std::string& s) {
    return color ? std::string("\033[") + code + "m" + s + "\033[0m" : s;
  };
  const auto heading = [&](const std::string& s) { return paint("1", s); };
  const auto indented = [](const std::string& text) {
    std::string out = "  ";
    for (char c : text) {
      out += c;
      if (c == '\n') out += "  ";
    }
    return out;
  };
  std::cout << heading("trace " + std::to_string(row->id)) << "  run " << row->run_name << "  stage " << row->stage
            << "  step " << row->step << "  prompt " << row->prompt_index << "  sample " << row->sample_index << "\n\n";
  std::cout << heading("prompt") << "\n" << indented(row->prompt) << "\n\n";
  std::cout << heading("reasoning") << paint("2", " (" + std::to_string(row->completion_tokens) + " completion tokens, " +
                                                      row->finish_reason + ")")
            << "\n"
            << paint("36", indented(row->reasoning.empty() ? "(none)" : row->reasoning)) << "\n\n";
  std::cout << heading("answer") << "\n" << paint("1;33", indented(row->answer.empty() ? "(none)" : row->answer))
            << "\n";
  std::cout << heading("reference") << " " << row->reference << "\n\n";
  const bool passed = row->outcome == "pass";
  std::cout << heading("reward") << " " << row->reward << "   outcome "
            << paint(passed ? "32" : "31", row->outcome.empty() ? "-" : row->outcome);
  if (!row->reason.empty()) std::cout << " (" << row->reason << ")";
  std::cout << "\n";
  for (const auto& [name, value] : row->components) std::cout << "  " << name << " = " << value << "\n";
  std::cout << "advantage " << row->advantage << "   language share ";
  if (std::isfinite(row->language_share)) std::cout << row->language_share;
  else std::cout << "-";
  std::cout << "   logprob mean " << row->logprob_mean << " min " << row->logprob_min << "   seed " << row->seed << "\n";
  if (row->accepted)
    std::cout << "verdict " << paint(*row->accepted ? "32" : "31", verdict(*row)) << "\n";
  std::cout << paint("2", "raw completion:") << "\n" << paint("2", indented(row->completion)) << "\n";
}

void print_stats_row(const sampling::StepStats& s, const std::string& step_label) {
  char language[16] = "-", pass[16] = "-";
  if (s.language.count > 0) std::snprintf(language, sizeof language, "%.3f", s.language.mean);
  if (std::isfinite(s.pass_rate)) std::snprintf(pass, sizeof pass, "%.3f", s.pass_rate);
  std::string rejections;
  for (const auto& [reason, n] : s.rejections) rejections += reason + "=" + std::to_string(n) + " ";
  std::printf("%-14s %6s %7lld %7.3f %6.3f %7.3f %7.3f %7.1f %6lld %6s %6s %5.1f%% %6lld %6lld  %s\n", s.stage.c_str(),
              step_label.c_str(), (long long)s.count, s.reward.mean, s.reward.stddev, s.reward.min, s.reward.max,
              s.tokens.mean, (long long)s.tokens.max, pass, language, 100.0 * s.truncated_share, (long long)s.accepted,
              (long long)s.rejected, rejections.c_str());
}

void stats(const TraceOptions& o) {
  sampling::TraceStore store(o.db, true);
  const auto rows = store.stats(o.filter.stage, o.filter.run_id);
  // Group by stage, in the order the rows come (stage start order).
  std::vector<std::vector<sampling::StepStats>> stages;
  for (const auto& row : rows) {
    if (stages.empty() || stages.back().front().stage != row.stage) stages.emplace_back();
    stages.back().push_back(row);
  }
  if (o.json) {
    const auto emit = [&](const sampling::StepStats& s, const nlohmann::json& step) {
      std::cout << sampling::step_stats_json(s, step).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    };
    for (const auto& stage : stages) {
      if (!o.per_stage)
        for (const auto& s : stage) emit(s, s.step);
      emit(sampling::combine(stage), "all");
    }
    return;
  }
  std::printf("%-14s %6s %7s %7s %6s %7s %7s %7s %6s %6s %6s %6s %6s %6s  %s\n", "stage", "step", "count", "reward",
              "std", "min", "max", "tokens", "max", "pass", "lang", "trunc", "acc", "rej", "rejections");
  for (const auto& stage : stages) {
    if (!o.per_stage)
      for (const auto& s : stage) print_stats_row(s, std::to_string(s.step));
    print_stats_row(sampling::combine(stage), "all");
  }
}

void export_jsonl(const TraceOptions& o) {
  auto filter = resolved_filter(o);
  R1_CHECK(filter.sort == sampling::TraceSort::id, "export: rows come in id order (--sort id)");
  sampling::TraceStore store(o.db, true);
  std::FILE* out = stdout;
  if (o.output != "-") {
    out = std::fopen(o.output.c_str(), "w");
    R1_CHECK(out != nullptr, o.output, ": cannot write");
  }
  // Keyset pages: each page starts after the last id seen, so a large export stays linear.
  const int64_t limit = o.filter.limit;  // negative: everything
  filter.offset = 0;
  int64_t written = 0;
  for (;;) {
    filter.limit = limit < 0 ? 5000 : std::min<int64_t>(5000, limit - written);
    if (filter.limit <= 0) break;
    const auto rows = store.list(filter);
    for (const auto& row : rows) {
      const std::string line = to_json_text(sampling::trace_json(row)) + "\n";
      std::fwrite(line.data(), 1, line.size(), out);
    }
    written += int64_t(rows.size());
    if (int64_t(rows.size()) < filter.limit) break;
    filter.after_id = rows.back().id;
  }
  if (out != stdout) R1_ASSERT(std::fclose(out) == 0, o.output, ": write failed");
  else std::fflush(stdout);  // before the count on stderr, so the two never interleave
  std::fprintf(stderr, "exported %lld traces\n", (long long)written);
}

void add_filters(CLI::App* cmd, TraceOptions& o) {
  cmd->add_option("--run", o.filter.run_id, "run id");
  cmd->add_option("--stage", o.filter.stage, "stage name (zero, cold_start, reasoning_rl, ...)");
  cmd->add_option("--min-step", o.filter.min_step, "first step");
  cmd->add_option("--max-step", o.filter.max_step, "last step");
  cmd->add_option("--min-reward", o.filter.min_reward, "lowest reward");
  cmd->add_option("--max-reward", o.filter.max_reward, "highest reward");
  cmd->add_option("--accepted", o.accepted, "rejection-sampling verdict: any, yes, no")->capture_default_str();
  cmd->add_option("--rejection-reason", o.filter.rejection_reason, "e.g. incorrect, mixed_language");
  cmd->add_option("--finish-reason", o.filter.finish_reason, "stop or length");
  cmd->add_option("--outcome", o.filter.outcome, "accuracy verdict: pass, fail, error");
  cmd->add_option("--min-language", o.filter.min_language, "lowest language-consistency share (0..1)");
  cmd->add_option("--max-language", o.filter.max_language, "highest language-consistency share (0..1)");
  cmd->add_option("--min-tokens", o.filter.min_tokens, "shortest completion, in tokens");
  cmd->add_option("--max-tokens", o.filter.max_tokens, "longest completion, in tokens");
}

}  // namespace

void add_trace_commands(CLI::App& app) {
  auto o = std::make_shared<TraceOptions>();
  auto* traces = app.add_subcommand("traces", "inspect sampled reasoning traces in a run's SQLite store");
  traces->require_subcommand(1);
  auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("--db", o->db, "trace database, e.g. runs/tiny-zero/traces.db")->required()->check(CLI::ExistingFile);
    cmd->add_flag("--json", o->json, "one JSON object per line");
  };
  auto* list_cmd = traces->add_subcommand("list", "list traces, filtered and sorted");
  add_common(list_cmd);
  add_filters(list_cmd, *o);
  list_cmd->add_option("--sort", o->sort, "id, step, reward, tokens or language")->capture_default_str();
  list_cmd->add_flag("--desc", o->descending, "largest first");
  list_cmd->add_option("--limit", o->filter.limit, "rows at most (-1: all)")->capture_default_str();
  list_cmd->add_option("--offset", o->filter.offset, "rows to skip")->capture_default_str();
  list_cmd->callback([o] { list(*o); });

  auto* show_cmd = traces->add_subcommand("show", "one trace: prompt, reasoning and answer apart, rewards, verdict");
  add_common(show_cmd);
  show_cmd->add_option("id", o->id, "trace id")->required();
  show_cmd->add_option("--color", o->color, "auto (on a terminal), always or never")->capture_default_str();
  show_cmd->callback([o] { show(*o); });

  auto* search_cmd = traces->add_subcommand("search", "full-text search over completions, newest first");
  add_common(search_cmd);
  search_cmd->add_option("text", o->text, "words that must all occur")->required();
  search_cmd->add_flag("--fts", o->raw_fts, "TEXT is an FTS5 query (\"a phrase\", OR, NEAR, prefix*)");
  add_filters(search_cmd, *o);
  search_cmd->add_option("--limit", o->filter.limit, "rows at most")->capture_default_str();
  search_cmd->add_option("--offset", o->filter.offset, "rows to skip")->capture_default_str();
  search_cmd->callback([o] { search(*o); });

  auto* reindex_cmd = traces->add_subcommand(
      "reindex", "rebuild the full-text index (FILE.fts) from the samples: after editing completions by hand");
  reindex_cmd->add_option("--db", o->db, "trace database")->required()->check(CLI::ExistingFile);
  reindex_cmd->callback([o] { reindex(*o); });

  auto* stats_cmd = traces->add_subcommand(
      "stats", "per stage and step: counts, reward, length and language distributions, acceptance by reason");
  add_common(stats_cmd);
  stats_cmd->add_option("--run", o->filter.run_id, "run id");
  stats_cmd->add_option("--stage", o->filter.stage, "only this stage");
  stats_cmd->add_flag("--per-stage", o->per_stage, "one summary row per stage, no per-step rows");
  stats_cmd->callback([o] { stats(*o); });

  auto* export_cmd = traces->add_subcommand("export", "JSONL of every matching trace (all fields), for SFT elsewhere");
  export_cmd->add_option("--db", o->db, "trace database")->required()->check(CLI::ExistingFile);
  add_filters(export_cmd, *o);
  export_cmd->add_option("--output,-o", o->output, "file to write ('-': stdout)")->capture_default_str();
  export_cmd->add_option("--limit", o->export_limit, "rows at most (-1: all)")->capture_default_str();
  export_cmd->callback([o] {
    o->filter.limit = o->export_limit;
    export_jsonl(*o);
  });
}

}  // namespace r1::cli
