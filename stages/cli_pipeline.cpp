// `r1 run`, `r1 stage`, `r1 status`.
#include "stages/cli.h"
#include "stages/runner.h"
#include "stages/stage.h"

namespace r1::cli {

void add_pipeline_commands(CLI::App& app) {
  auto options = std::make_shared<stages::RunOptions>();

  auto* run = app.add_subcommand("run", "run the pipeline's stages in order inside a run directory; finished "
                                        "stages are skipped, so re-running resumes");
  run->add_option("config", options->config_path, "pipeline YAML, e.g. configs/r1-tiny.yaml")->required()->check(CLI::ExistingFile);
  run->add_option("--set", options->overrides, "override a config key: --set zero.steps=10 (repeatable)");
  run->add_option("--run-dir", options->run_dir, "run directory (default: run.dir from the config)");
  run->add_option("--from", options->from, "re-run this stage and every later one");
  run->add_option("--only", options->only, "re-run just this stage");
  run->callback([options] { stages::run_pipeline(*options); });

  auto stage_name = std::make_shared<std::string>();
  auto* stage = app.add_subcommand("stage", "run one stage of a pipeline config (same as run --only NAME)");
  std::string known;
  for (const auto& name : stages::StageRegistry::global().names()) known += (known.empty() ? "" : ", ") + name;
  stage->add_option("name", *stage_name, "stage name: " + known)->required();
  stage->add_option("--config", options->config_path, "pipeline YAML")->required()->check(CLI::ExistingFile);
  stage->add_option("--set", options->overrides, "override a config key (repeatable)");
  stage->add_option("--run-dir", options->run_dir, "run directory (default: run.dir from the config)");
  stage->callback([options, stage_name] {
    stages::StageRegistry::global().get(*stage_name);
    options->only = *stage_name;
    stages::run_pipeline(*options);
  });

  auto run_dir = std::make_shared<std::string>();
  auto* status = app.add_subcommand("status", "show each stage's state and headline metrics for a run directory");
  status->add_option("run_dir", *run_dir, "run directory")->required();
  status->callback([run_dir] { stages::print_status(*run_dir); });
}

}  // namespace r1::cli
