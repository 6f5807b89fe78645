// Training and held-out prompts from the data files or the synthetic task.
#include "stages/prompt_data.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "common/error.h"
#include "sampling/portable_random.h"

namespace r1::stages {

std::vector<sampling::Problem> training_prompts(const PipelineConfig& config, int64_t count, uint64_t seed) {
  if (!config.data.from_files()) return sampling::generate_problems(config.task, count, seed);
  auto rows = sampling::load_problems_jsonl(config.data.train);
  R1_CHECK(!rows.empty(), "data.train: ", config.data.train, " has no rows");
  // Fisher-Yates with the portable draw: the same order under every standard library.
  std::mt19937_64 rng(seed);
  for (std::size_t i = rows.size(); i > 1; --i) std::swap(rows[i - 1], rows[sampling::uniform_int(rng, 0, i - 1)]);
  if (int64_t(rows.size()) > count) rows.resize(std::size_t(count));
  return rows;
}

std::vector<sampling::Problem> eval_problems(const PipelineConfig& config) {
  if (!config.data.from_files())
    return sampling::generate_problems(config.task, config.eval.num_prompts, config.run.seed ^ 0xe7a1e7a1ULL);
  auto rows = sampling::load_problems_jsonl(config.data.test);
  R1_CHECK(!rows.empty(), "data.test: ", config.data.test, " has no rows");
  if (int64_t(rows.size()) > config.eval.num_prompts) rows.resize(std::size_t(config.eval.num_prompts));
  return rows;
}

}  // namespace r1::stages
