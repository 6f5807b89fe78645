// Running the configured stages in order.
#include "stages/runner.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include <torch/torch.h>

#include "common/config.h"
#include "common/error.h"
#include "sampling/trace_store.h"
#include "stages/cpu_threads.h"
#include "stages/engine_factory.h"
#include "stages/results_table.h"
#include "stages/run_lock.h"
#include "stages/stage.h"
#include "stages/stage_checkpoint.h"

namespace r1::stages {

namespace fs = std::filesystem;

namespace {

void write_file_atomically(const fs::path& path, const std::string& text) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    R1_CHECK(out.good(), "cannot write ", tmp);
    out << text;
  }
  fs::rename(tmp, path);
}

// Keeps the lines of a stage's metrics.jsonl with "step" <= keep_through (none when it is -1).
void truncate_metrics_file(const fs::path& path, int64_t keep_through) {
  if (!fs::exists(path)) return;
  std::string kept;
  {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      nlohmann::json row;
      try {
        row = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        continue;  // a line cut short by a kill
      }
      if (row.is_object() && row.value("step", int64_t(-1)) <= keep_through) kept += line + "\n";
    }
  }
  write_file_atomically(path, kept);
}

}  // namespace

void run_pipeline(const RunOptions& options) {
  auto config = load_pipeline_config(options.config_path, options.overrides);
  if (options.run_dir) config.run.dir = *options.run_dir;
  const auto& registry = StageRegistry::global();
  for (const auto& name : config.stages) registry.get(name);  // unknown names fail before any work
  check_engine_available(config.engine);                       // so does an engine this machine cannot run
  for (const auto* chosen : {&options.from, &options.only})
    if (*chosen)
      R1_CHECK(std::find(config.stages.begin(), config.stages.end(), **chosen) != config.stages.end(), "stage '",
               **chosen, "' is not in this config's stages list");

  configure_cpu_threads(int(config.run.threads), /*blas_threads=*/1);
  const std::string resolved = config::to_yaml(config);
  RunLock lock(config.run.dir);  // one r1 run per directory; `r1 status` reads who holds it
  RunContext ctx(config, resolved);
  write_file_atomically(ctx.dir() / "config.yaml", resolved);
  ctx.progress().line("run directory: " + ctx.dir().string() + "  (resolved config in config.yaml)");

  bool reached_from = !options.from.has_value();
  for (const auto& name : config.stages) {
    if (options.from && name == *options.from) reached_from = true;
    const bool forced = (options.only && name == *options.only) || (options.from && reached_from);
    if (options.only && name != *options.only) continue;
    if (!reached_from) continue;
    const auto done = ctx.stage_dir(name) / "done.json";
    if (fs::exists(done) && !forced) {
      ctx.progress().line("[" + name + "] finished earlier (" + done.string() + "); skipping");
      continue;
    }
    fs::create_directories(ctx.stage_dir(name));
    fs::remove(done);
    lock.set_stage(name);
    // A stage killed midway goes on from its last checkpoint: what it stored after that step (traces,
    // step metrics, metrics.jsonl lines) goes, so nothing is stored twice. A stage re-run on purpose
    // (--from/--only), or one without a checkpoint, starts over: everything an earlier attempt left goes.
    auto checkpoint = forced ? std::nullopt : find_stage_checkpoint(ctx.stage_dir(name));
    if (!checkpoint) remove_stage_checkpoint(ctx.stage_dir(name));
    const int64_t keep_through = checkpoint ? checkpoint->step : -1;
    int64_t removed = 0;
    const int64_t run_id = ctx.run_id();
    ctx.traces().with_store(
        [&](sampling::TraceStore& store) { removed = store.truncate_stage(run_id, name, keep_through + 1); });
    truncate_metrics_file(ctx.stage_dir(name) / "metrics.jsonl", keep_through);
    if (removed > 0)
      ctx.progress().line("[" + name + "] removed " + std::to_string(removed) + " traces of an earlier attempt" +
                          (checkpoint ? " (after its checkpoint)" : ""));
    if (checkpoint)
      ctx.progress().line("[" + name + "] resuming after step " + std::to_string(checkpoint->step) + " from " +
                          checkpoint->dir.string());
    ctx.set_resume_point(name, checkpoint);
    ctx.progress().line("[" + name + "] " + registry.get(name).description);
    auto summary = registry.get(name).run(ctx);
    nlohmann::json record = {{"stage", name}, {"status", "done"}, {"summary", summary}};
    write_file_atomically(done, record.dump(2) + "\n");
    remove_stage_checkpoint(ctx.stage_dir(name));  // the stage's model is final; done.json says so
  }
  // The closing table: held-out accuracy, format, language share and length after each stage.
  const auto table = results_table(ctx.dir(), config.stages);
  write_file_atomically(ctx.dir() / "results.md", table.markdown());
  write_file_atomically(ctx.dir() / "results.json", table.rows.dump(2) + "\n");
  ctx.progress().line("results (" + (ctx.dir() / "results.md").string() + "):\n" + table.markdown());
}

namespace {

// "done  eval_accuracy=0.81 ...": the numbers of its summary, in done.json.
std::string done_line(const fs::path& done) {
  std::ifstream in(done);
  nlohmann::json record;
  try {
    record = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    R1_FAIL(done.string(), ": ", e.what());
  }
  std::string line = "done";
  if (record.contains("summary") && record["summary"].is_object())
    for (const auto& [key, value] : record["summary"].items())
      if (value.is_number()) line += "  " + key + "=" + value.dump();
  return line;
}

// Traces stored for each stage of the run named `run_name`; empty when there is no store yet.
std::map<std::string, int64_t> traces_by_stage(const fs::path& db, const std::string& run_name) {
  std::map<std::string, int64_t> counts;
  if (!fs::exists(db)) return counts;
  sampling::TraceStore store(db.string(), /*read_only=*/true);
  for (const auto& run : store.runs()) {
    if (run.name != run_name) continue;
    for (const auto& stage : run.stages) {
      sampling::TraceFilter filter;
      filter.run_id = run.id;
      filter.stage = stage;
      counts[stage] = store.count(filter);
    }
  }
  return counts;
}

}  // namespace

void print_status(const std::string& run_dir) {
  const fs::path dir(run_dir);
  R1_CHECK(fs::exists(dir / "config.yaml"), "'", run_dir, "' is not a run directory (no config.yaml)");
  auto config = load_pipeline_config((dir / "config.yaml").string(), {});
  const auto holder = run_lock_holder(dir);
  const auto traces = traces_by_stage(dir / "traces.db", config.run.name);
  std::cout << "run " << config.run.name << " in " << run_dir << ": "
            << (holder ? "running (pid " + std::to_string(holder->pid) + ")" : std::string("not running")) << "\n";
  for (const auto& name : config.stages) {
    const auto stage_dir = dir / name;
    std::string line;
    if (fs::exists(stage_dir / "done.json")) {
      line = done_line(stage_dir / "done.json");
    } else if (fs::exists(stage_dir)) {
      const bool running = holder && holder->stage == name;
      const auto checkpoint = find_stage_checkpoint(stage_dir);
      line = running ? "running" : "interrupted";
      if (checkpoint) {
        line += ", checkpoint after step " + std::to_string(checkpoint->step);
        if (checkpoint->state.value("steps", nlohmann::json()).is_number_integer())
          line += " of " + checkpoint->state["steps"].dump();
        if (!running) line += "; r1 run resumes it at step " + std::to_string(checkpoint->step + 1);
      } else {
        line += running ? ", no checkpoint yet" : ", no checkpoint; r1 run restarts it from its beginning";
      }
    } else {
      line = "pending";
    }
    const auto stored = traces.find(name);
    if (stored != traces.end() && stored->second > 0) line += "  (" + std::to_string(stored->second) + " traces stored)";
    std::cout << "  " << name << ": " << line << "\n";
  }
}

}  // namespace r1::stages
