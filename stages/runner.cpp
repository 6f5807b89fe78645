// Running the configured stages in order.
#include "stages/runner.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <torch/torch.h>

#include "common/config.h"
#include "common/error.h"
#include "stages/cpu_threads.h"
#include "stages/results_table.h"
#include "stages/stage.h"

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

}  // namespace

void run_pipeline(const RunOptions& options) {
  auto config = load_pipeline_config(options.config_path, options.overrides);
  if (options.run_dir) config.run.dir = *options.run_dir;
  const auto& registry = StageRegistry::global();
  for (const auto& name : config.stages) registry.get(name);  // unknown names fail before any work
  for (const auto* chosen : {&options.from, &options.only})
    if (*chosen)
      R1_CHECK(std::find(config.stages.begin(), config.stages.end(), **chosen) != config.stages.end(), "stage '",
               **chosen, "' is not in this config's stages list");

  configure_cpu_threads(int(config.run.threads), /*blas_threads=*/1);
  const std::string resolved = config::to_yaml(config);
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
    // The stage starts from scratch: what an earlier attempt left (killed midway, or re-run with
    // --from/--only) goes first — its traces and step metrics in the store, its metrics.jsonl — so
    // no trace is stored twice.
    int64_t removed = 0;
    const int64_t run_id = ctx.run_id();
    ctx.traces().with_store([&](sampling::TraceStore& store) { removed = store.truncate_stage(run_id, name, 0); });
    fs::remove(ctx.stage_dir(name) / "metrics.jsonl");
    if (removed > 0)
      ctx.progress().line("[" + name + "] removed " + std::to_string(removed) + " traces of an earlier attempt");
    ctx.progress().line("[" + name + "] " + registry.get(name).description);
    auto summary = registry.get(name).run(ctx);
    nlohmann::json record = {{"stage", name}, {"status", "done"}, {"summary", summary}};
    write_file_atomically(done, record.dump(2) + "\n");
  }
  // The closing table: held-out accuracy, format, language share and length after each stage.
  const auto table = results_table(ctx.dir(), config.stages);
  write_file_atomically(ctx.dir() / "results.md", table.markdown());
  write_file_atomically(ctx.dir() / "results.json", table.rows.dump(2) + "\n");
  ctx.progress().line("results (" + (ctx.dir() / "results.md").string() + "):\n" + table.markdown());
}

void print_status(const std::string& run_dir) {
  const fs::path dir(run_dir);
  R1_CHECK(fs::exists(dir / "config.yaml"), "'", run_dir, "' is not a run directory (no config.yaml)");
  auto config = load_pipeline_config((dir / "config.yaml").string(), {});
  std::cout << "run " << config.run.name << " in " << run_dir << "\n";
  for (const auto& name : config.stages) {
    const auto done = dir / name / "done.json";
    if (fs::exists(done)) {
      std::ifstream in(done);
      nlohmann::json record;
      try {
        record = nlohmann::json::parse(in);
      } catch (const nlohmann::json::exception& e) {
        R1_FAIL(done.string(), ": ", e.what());
      }
      std::cout << "  " << name << ": done";
      for (const auto& [key, value] : record["summary"].items())
        if (value.is_number()) std::cout << "  " << key << "=" << value.dump();
      std::cout << "\n";
    } else if (fs::exists(dir / name)) {
      std::cout << "  " << name << ": started, not finished\n";
    } else {
      std::cout << "  " << name << ": pending\n";
    }
  }
}

}  // namespace r1::stages
