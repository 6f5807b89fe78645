// A ModelRunner that computes nothing: each step checks its inputs' shapes and returns token 0 with
// logprob 0 for every draw (and expert 0 for every routing record asked for). Under the paged
// engine it measures the engine loop's own cost per step — scheduling, block tables, the flat
// step layout, completion tracking — which a synchronous GPU step waits on: `r1 bench rollout`
// reports it beside every measured row (host_ms_per_step).
#pragma once

#include "rollout/policy_runner.h"

namespace r1::rollout {

class NullRunner : public PolicyRunner {
 public:
  explicit NullRunner(policy::CausalLM model) : PolicyRunner(std::move(model)) {}

  KvCacheGeometry kv_geometry(int64_t block_tokens) const override {
    return model_kv_geometry(config(), block_tokens, 2);
  }
  // Nothing is allocated: any pool the engine asks for fits.
  int64_t free_cache_bytes() const override { return int64_t{1} << 40; }
  void allocate_cache(int64_t, int64_t) override {}
  void copy_blocks(const std::vector<BlockCopy>&) override {}
  StepOutputs step(const StepInputs& inputs) override;
  void refresh_weights() override {}
};

}  // namespace r1::rollout
