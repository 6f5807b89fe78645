// The pipeline runner: stages in config order inside one run directory; finished stages (those with
// <stage>/done.json) are skipped, --from/--only choose a part to (re-)run.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace r1::stages {

struct RunOptions {
  std::string config_path;
  std::vector<std::string> overrides;  // "a.b=value"
  std::optional<std::string> run_dir;
  std::optional<std::string> from;     // re-run this stage and every later one
  std::optional<std::string> only;     // re-run just this stage
};

void run_pipeline(const RunOptions& options);

// Prints each stage's state and headline metrics for a run directory.
void print_status(const std::string& run_dir);

}  // namespace r1::stages
