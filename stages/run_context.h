// What every stage gets: the resolved config, the run directory layout, the tokenizer, template and
// trace store, and where to report metrics. Holds no math.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "policy/chat_template.h"
#include "policy/tokenizer.h"
#include "sampling/trace_writer.h"
#include "stages/pipeline_config.h"
#include "stages/progress.h"
#include "stages/stage_checkpoint.h"

namespace r1::stages {

class RunContext {
 public:
  RunContext(PipelineConfig config, std::string config_yaml);

  const PipelineConfig& config() const { return config_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path stage_dir(const std::string& stage) const { return dir_ / stage; }
  // A stage's final model checkpoint directory.
  std::filesystem::path model_dir(const std::string& stage) const { return stage_dir(stage) / "model"; }
  // A checkpoint named by config: a stage of this run ("pretrain") or a directory path.
  std::string resolve_model(const std::string& name) const;

  const policy::Tokenizer& tokenizer() const { return *tokenizer_; }
  const policy::ChatTemplate& chat_template() const { return template_; }
  // Opened on first use: <run dir>/traces.db, written on a background thread (flushed when the
  // context is destroyed; stages call flush() where they must see their writes).
  sampling::TraceWriter& traces();
  int64_t run_id();                // this run's row in the trace store

  // Appends one JSON line to <stage dir>/metrics.jsonl and the store's step metrics.
  void log_metrics(const std::string& stage, int64_t step, const std::map<std::string, double>& metrics);
  Progress& progress() { return progress_; }

  // Where a stage goes on from: the runner sets it before the stage runs (nullopt: from scratch,
  // with the stage's earlier traces and metrics removed; else they are kept up to its step).
  void set_resume_point(const std::string& stage, std::optional<StageCheckpoint> checkpoint);
  const std::optional<StageCheckpoint>& resume_point(const std::string& stage) const;

 private:
  PipelineConfig config_;
  std::string config_yaml_;
  std::filesystem::path dir_;
  std::unique_ptr<policy::Tokenizer> tokenizer_;
  policy::ChatTemplate template_;
  std::unique_ptr<sampling::TraceWriter> traces_;
  int64_t run_id_ = -1;
  Progress progress_;
  std::map<std::string, std::optional<StageCheckpoint>> resume_points_;
};

}  // namespace r1::stages
