// `r1 traces list|show|stats`: reading the SQLite trace store from the terminal.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "common/error.h"
#include "sampling/trace_store.h"
#include "stages/cli.h"

namespace r1::cli {

namespace {

struct TraceOptions {
  std::string db;
  sampling::TraceFilter filter;
  int64_t id = 0;
  std::string stage;
  bool json = false;
};

std::string one_line(const std::string& text, std::size_t width) {
  std::string out;
  for (char c : text) out += (c == '\n' || c == '\t') ? ' ' : c;
  if (out.size() > width) out = out.substr(0, width - 3) + "...";
  return out;
}

std::string format_component(const std::string& name, double value) {
  char buffer[128];
  std::snprintf(buffer, sizeof(buffer), "%s=%.3f ", name.c_str(), value);
  return buffer;
}

nlohmann::json to_json(const sampling::TraceRow& row) {
  return {{"id", row.id},           {"run_id", row.run_id},
          {"stage", row.stage},     {"step", row.step},
          {"prompt_index", row.prompt_index}, {"sample_index", row.sample_index},
          {"prompt", row.prompt},   {"completion", row.completion},
          {"reference", row.reference}, {"reward", row.reward},
          {"components", row.components}, {"outcome", row.outcome},
          {"reason", row.reason},   {"advantage", row.advantage},
          {"num_tokens", row.num_tokens}, {"finish_reason", row.finish_reason},
          {"mean_logprob", row.mean_logprob}, {"seed", row.seed},
          {"created_at", row.created_at}};
}

void list(const TraceOptions& o) {
  sampling::TraceStore store(o.db, /*read_only=*/true);
  auto rows = store.list(o.filter);
  if (o.json) {
    for (const auto& row : rows) std::cout << to_json_text(to_json(row)) << "\n";
    return;
  }
  std::printf("%8s %-12s %5s %7s %8s %6s  %s\n", "id", "stage", "step", "reward", "adv", "tokens", "completion");
  for (const auto& row : rows)
    std::printf("%8lld %-12s %5lld %7.3f %8.3f %6lld  %s\n", (long long)row.id, row.stage.c_str(), (long long)row.step,
                row.reward, row.advantage, (long long)row.num_tokens, one_line(row.completion, 70).c_str());
}

void show(const TraceOptions& o) {
  sampling::TraceStore store(o.db, true);
  auto row = store.get(o.id);
  R1_CHECK(row.has_value(), o.db, ": no trace with id ", o.id);
  if (o.json) {
    std::cout << to_json_text(to_json(*row), 2) << "\n";
    return;
  }
  const bool color = isatty(STDOUT_FILENO);
  auto bold = [&](const std::string& s) { return color ? "\033[1m" + s + "\033[0m" : s; };
  std::cout << bold("trace " + std::to_string(row->id)) << "  stage " << row->stage << "  step " << row->step
            << "  prompt " << row->prompt_index << " sample " << row->sample_index << "\n";
  std::cout << bold("prompt") << "\n  " << row->prompt << "\n";
  std::cout << bold("completion") << " (" << row->num_tokens << " tokens, " << row->finish_reason << ")\n  "
            << row->completion << "\n";
  std::cout << bold("reference") << " " << row->reference << "\n";
  std::cout << bold("reward") << " " << row->reward << "  advantage " << row->advantage << "  outcome " << row->outcome;
  if (!row->reason.empty()) std::cout << " (" << row->reason << ")";
  std::cout << "\n";
  for (const auto& [name, value] : row->components) std::cout << "  " << name << " = " << value << "\n";
}

void stats(const TraceOptions& o) {
  sampling::TraceStore store(o.db, true);
  auto rows = store.stats(o.stage.empty() ? std::nullopt : std::optional<std::string>(o.stage));
  if (o.json) {
    for (const auto& s : rows)
      std::cout << nlohmann::json{{"stage", s.stage}, {"step", s.step}, {"count", s.count},
                                  {"mean_reward", s.mean_reward}, {"mean_tokens", s.mean_tokens},
                                  {"components", s.mean_components}}
                       .dump()
                << "\n";
    return;
  }
  std::printf("%-12s %5s %6s %8s %8s  %s\n", "stage", "step", "count", "reward", "tokens", "components (mean)");
  for (const auto& s : rows) {
    std::string components;
    for (const auto& [name, value] : s.mean_components) components += format_component(name, value);
    std::printf("%-12s %5lld %6lld %8.3f %8.1f  %s\n", s.stage.c_str(), (long long)s.step, (long long)s.count,
                s.mean_reward, s.mean_tokens, components.c_str());
  }
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
  auto* list_cmd = traces->add_subcommand("list", "list traces, filtered");
  add_common(list_cmd);
  list_cmd->add_option("--run", o->filter.run_id, "run id");
  list_cmd->add_option("--stage", o->filter.stage, "stage name");
  list_cmd->add_option("--min-step", o->filter.min_step, "first step");
  list_cmd->add_option("--max-step", o->filter.max_step, "last step");
  list_cmd->add_option("--min-reward", o->filter.min_reward, "lowest reward");
  list_cmd->add_option("--max-reward", o->filter.max_reward, "highest reward");
  list_cmd->add_option("--limit", o->filter.limit, "rows at most")->capture_default_str();
  list_cmd->add_option("--offset", o->filter.offset, "rows to skip")->capture_default_str();
  list_cmd->callback([o] { list(*o); });

  auto* show_cmd = traces->add_subcommand("show", "one trace: prompt, completion, reference, rewards");
  add_common(show_cmd);
  show_cmd->add_option("id", o->id, "trace id")->required();
  show_cmd->callback([o] { show(*o); });

  auto* stats_cmd = traces->add_subcommand("stats", "per stage and step: count, mean reward, length, components");
  add_common(stats_cmd);
  stats_cmd->add_option("--stage", o->stage, "only this stage");
  stats_cmd->callback([o] { stats(*o); });
}

}  // namespace r1::cli
