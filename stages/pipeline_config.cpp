// Loading the pipeline config: presets first, then the user's keys, then --set overrides.
#include "stages/pipeline_config.h"

#include "common/config.h"

namespace r1::stages {

PipelineConfig load_pipeline_config(const std::string& path, const std::vector<std::string>& overrides) {
  auto doc = config::Document::load_file(path, overrides);
  // The model section starts from its preset: fill in every key the user did not write with the
  // preset's value, so "preset: tiny-student" alone selects the whole student shape.
  YAML::Node root = doc.root();
  if (root.IsMap() && root["model"] && root["model"].IsMap()) {
    YAML::Node model = root["model"];
    std::string preset = "tiny";
    if (model["preset"] && model["preset"].IsScalar()) preset = model["preset"].Scalar();
    const YAML::Node defaults = config::to_node(policy::preset_config(preset));
    for (const auto& item : defaults) {
      const std::string key = item.first.Scalar();
      if (!model[key]) model[key] = item.second;
    }
  }
  return doc.bind<PipelineConfig>();
}

rewards::ScoringOptions RewardScoringConfig::options(int threads) const {
  rewards::ScoringOptions options;
  options.threads = threads;
  options.timeout = std::chrono::milliseconds(timeout_ms);
  options.on_failure = on_failure == "stop" ? rewards::FailurePolicy::stop : rewards::FailurePolicy::zero;
  options.batch_size = std::size_t(batch_size);
  options.max_abandoned = int(max_abandoned);
  return options;
}

}  // namespace r1::stages
