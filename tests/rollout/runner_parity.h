// The parity checks every runner built from the kernels must pass — the reference runner
// (tests/rollout/test_reference_runner.cpp) on any machine, the CUDA runner
// (tests/gpu_engine/test_cuda_runner.cpp) where a device is present: under the paged engine, it
// generates what the CPU engine and the LibTorch runner generate, on every HF family fixture.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include <functional>

#include "rollout/cpu_engine.h"
#include "rollout/paged_engine.h"
#include "rollout/torch_runner.h"
#include "tests/rollout/hf_fixture_models.h"

namespace r1::test {

// Blocks of 4 positions, at most 12 tokens a step and prefill chunks of 5: a 22-token prompt comes
// in chunks, and decode steps mix with them.
inline rollout::PagedEngineConfig small_steps(bool record_experts) {
  rollout::PagedEngineConfig config;
  config.block_tokens = 4;
  config.num_blocks = 64;
  config.scheduler.max_tokens_per_step = 12;
  config.scheduler.max_running = 8;
  config.scheduler.prefill_chunk = 5;
  config.record_experts = record_experts;
  return config;
}

inline rollout::PagedEngine torch_engine(policy::CausalLM model, const policy::Tokenizer& tok, bool record_experts) {
  return rollout::PagedEngine(std::make_unique<rollout::TorchRunner>(model), tok, small_steps(record_experts));
}

// The same tokens and finish reasons, and logprobs within `logprob_tolerance` (max abs).
inline void check_same_samples(const std::vector<rollout::GenerationResult>& have,
                               const std::vector<rollout::GenerationResult>& want, double logprob_tolerance) {
  REQUIRE(have.size() == want.size());
  for (std::size_t r = 0; r < want.size(); ++r) {
    REQUIRE(have[r].samples.size() == want[r].samples.size());
    for (std::size_t s = 0; s < want[r].samples.size(); ++s) {
      CAPTURE(r);
      CAPTURE(s);
      const auto& a = have[r].samples[s];
      const auto& b = want[r].samples[s];
      CHECK(a.token_ids == b.token_ids);
      CHECK(a.finish_reason == b.finish_reason);
      REQUIRE(a.logprobs.size() == b.logprobs.size());
      double gap = 0.0;
      for (std::size_t i = 0; i < a.logprobs.size(); ++i) gap = std::max(gap, std::abs(double(a.logprobs[i]) - b.logprobs[i]));
      CHECK(gap < logprob_tolerance);
    }
  }
}

using RunnerFactory = std::function<std::unique_ptr<rollout::ModelRunner>(policy::CausalLM)>;

inline rollout::PagedEngine engine_on(const RunnerFactory& make_runner, policy::CausalLM model,
                                      const policy::Tokenizer& tok, bool record_experts) {
  return rollout::PagedEngine(make_runner(model), tok, small_steps(record_experts));
}

// Greedy tokens and logprobs equal the CPU engine's on every HF family fixture; for MoE families
// the recorded experts equal the LibTorch runner's, token by token and layer by layer.
inline void check_greedy_parity(const RunnerFactory& make_runner) {
  SmallVocabTokenizer tok;
  rollout::SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_tokens = 10;
  const std::vector<rollout::GenerationRequest> requests = {{tok.encode("The cat sat on the mat"), 1, greedy, 1},
                                                            {tok.encode("Hi"), 1, greedy, 2}};
  for (const auto& family : hf_fixture_families()) {
    CAPTURE(family);
    auto model = load_hf_fixture(family);
    const bool moe = model->config().is_moe();
    rollout::CpuEngine cpu(model, tok);
    auto engine = engine_on(make_runner, model, tok, moe);
    const auto got = engine.generate(requests);
    check_same_samples(got, cpu.generate(requests), 1e-4);
    CHECK(engine.last_stats().prefill_tokens >= 24);
    CHECK(engine.runner().kv_geometry(4).shared_kv == model->config().is_mla());
    if (moe) {  // the experts it chose, token by token and layer by layer, are the LibTorch runner's
      auto torch = torch_engine(model, tok, true);
      const auto want = torch.generate(requests);
      for (std::size_t r = 0; r < requests.size(); ++r) {
        const auto& experts = got[r].samples[0].routed_experts;
        CHECK(!experts.empty());
        CHECK(experts == want[r].samples[0].routed_experts);
      }
    }
  }
}

// Sampled groups (shared prompt blocks, copy on write, top-k and top-p) equal the LibTorch runner's.
inline void check_sampled_parity(const RunnerFactory& make_runner) {
  SmallVocabTokenizer tok;
  rollout::SamplingParams params;
  params.temperature = 0.8;
  params.top_k = 40;
  params.top_p = 0.95;
  params.max_tokens = 12;
  // 15 prompt tokens: three full blocks of 4 shared by the group, and a partial one copied on write.
  const std::vector<rollout::GenerationRequest> requests = {{tok.encode("Sam has 5 pens."), 3, params, 7},
                                                            {tok.encode("Q: 2+3?"), 2, params, 8}};
  for (const std::string family : {"qwen3", "deepseek_v3", "qwen2_moe"}) {
    CAPTURE(family);
    auto model = load_hf_fixture(family);
    auto engine = engine_on(make_runner, model, tok, false);
    auto torch = torch_engine(model, tok, false);
    const auto got = engine.generate(requests);
    check_same_samples(got, torch.generate(requests), 1e-4);
    CHECK(engine.last_stats().block_copies == (3 - 1) + (2 - 1));
    CHECK(engine.last_stats().prefill_tokens == 15 + 7);
    CHECK(got[0].samples[0].token_ids != got[0].samples[1].token_ids);  // each sample its own Philox key
  }
}

// refresh_weights() re-reads the learner's parameters: stale before, the CPU engine's after.
inline void check_refresh(const RunnerFactory& make_runner) {
  SmallVocabTokenizer tok;
  auto model = load_hf_fixture("qwen3_moe");
  auto engine = engine_on(make_runner, model, tok, false);
  rollout::SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_tokens = 8;
  const std::vector<rollout::GenerationRequest> request = {{tok.encode("Once upon a time"), 1, greedy, 3}};
  const auto before = engine.generate(request)[0].samples[0].token_ids;
  {  // the learner moves: every parameter gets noise of its own scale
    torch::NoGradGuard no_grad;
    torch::manual_seed(5);
    for (auto& p : model->parameters()) p.add_(torch::randn_like(p) * (p.abs().mean() + 1e-3));
  }
  CHECK(engine.generate(request)[0].samples[0].token_ids == before);  // host copies: stale until refreshed
  engine.refresh_weights();
  const auto after = engine.generate(request)[0].samples[0].token_ids;
  CHECK(after != before);
  rollout::CpuEngine cpu(model, tok);
  CHECK(after == cpu.generate(request)[0].samples[0].token_ids);
}

}  // namespace r1::test
