// The run directory and the services stages share.
#include "stages/run_context.h"

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace r1::stages {

namespace fs = std::filesystem;

RunContext::RunContext(PipelineConfig config, std::string config_yaml)
    : config_(std::move(config)),
      config_yaml_(std::move(config_yaml)),
      dir_(config_.run.dir),
      tokenizer_(policy::load_tokenizer(config_.tokenizer == "base" ? config_.base : config_.tokenizer)),
      template_(config_.chat_template) {
  fs::create_directories(dir_);
}

std::string RunContext::resolve_model(const std::string& name) const {
  if (name == "base") {
    R1_CHECK(!config_.base.empty(), "a stage starts from 'base' but the config sets no base checkpoint (base: DIR)");
    R1_CHECK(fs::exists(fs::path(config_.base) / "config.json"), "base: '", config_.base,
             "' is not a checkpoint directory (no config.json)");
    return config_.base;
  }
  const auto& stages = config_.stages;
  const bool is_stage = std::find(stages.begin(), stages.end(), name) != stages.end() || name == "pretrain";
  if (is_stage) {
    const auto dir = model_dir(name);
    R1_CHECK(fs::exists(dir / "config.json"), "stage '", name, "' has no model in ", dir.string(),
             " yet: run that stage first (r1 run ... --only ", name, ")");
    return dir.string();
  }
  R1_CHECK(fs::exists(fs::path(name) / "config.json"), "init_from '", name,
           "' is neither a stage of this run nor a checkpoint directory with config.json");
  return name;
}

sampling::TraceWriter& RunContext::traces() {
  if (!traces_) traces_ = std::make_unique<sampling::TraceWriter>((dir_ / "traces.db").string());
  return *traces_;
}

int64_t RunContext::run_id() {
  if (run_id_ < 0) run_id_ = traces().begin_run(config_.run.name, config_yaml_);
  return run_id_;
}

void RunContext::log_metrics(const std::string& stage, int64_t step, const std::map<std::string, double>& metrics) {
  fs::create_directories(stage_dir(stage));
  nlohmann::json line = {{"stage", stage}, {"step", step}};
  for (const auto& [name, value] : metrics) line[name] = value;
  std::ofstream out(stage_dir(stage) / "metrics.jsonl", std::ios::app);
  out << line.dump() << "\n";
  traces().add_step_metrics(run_id(), stage, step, metrics);
}

void RunContext::set_resume_point(const std::string& stage, std::optional<StageCheckpoint> checkpoint) {
  resume_points_[stage] = std::move(checkpoint);
}

const std::optional<StageCheckpoint>& RunContext::resume_point(const std::string& stage) const {
  static const std::optional<StageCheckpoint> none;
  const auto found = resume_points_.find(stage);
  return found == resume_points_.end() ? none : found->second;
}

}  // namespace r1::stages
