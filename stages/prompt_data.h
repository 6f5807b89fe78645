// Where a run's prompts come from: the synthetic arithmetic task (the built-in demo), or JSONL files
// of {"question", "answer"} rows (GSM8K's format) named in the config's `data` section. Stages ask
// for training prompts and held-out prompts here and never care which it is.
#pragma once

#include <cstdint>
#include <vector>

#include "sampling/arithmetic_task.h"
#include "stages/pipeline_config.h"

namespace r1::stages {

// `count` training prompts for a stage, deterministic in `seed` (each stage passes its own, so
// stages see different draws): data.train shuffled by the seed, cut to `count` (all of it when it
// has fewer rows), or synthetic problems.
std::vector<sampling::Problem> training_prompts(const PipelineConfig& config, int64_t count, uint64_t seed);

// The held-out prompts every stage is evaluated on: the first eval.num_prompts rows of data.test,
// or synthetic problems with the run's eval seed.
std::vector<sampling::Problem> eval_problems(const PipelineConfig& config);

}  // namespace r1::stages
