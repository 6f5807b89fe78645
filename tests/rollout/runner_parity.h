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

#include "rl/token_batch.h"
#include "rollout/cpu_engine.h"
#include "rollout/engine_weights.h"
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

// Every sample of `results` (for `requests`) as one packed batch: prompt + completion, the
// engine's logprobs as old_logprobs, the completion tokens in loss_mask.
inline rl::TokenBatch pack_samples(const std::vector<rollout::GenerationRequest>& requests,
                                   const std::vector<rollout::GenerationResult>& results, int64_t pad_id) {
  std::vector<rl::TokenSequence> seqs;
  for (std::size_t r = 0; r < requests.size(); ++r)
    for (const auto& s : results[r].samples) seqs.push_back({requests[r].prompt_ids, s.token_ids, s.logprobs});
  return rl::pack(seqs, pad_id);
}

// Mean |a - b| over the completion tokens of `batch` (a, b: per-token logprobs of its rows).
inline double mean_token_gap(const rl::TokenBatch& batch, const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs() * batch.loss_mask).sum().item<double>() / batch.loss_mask.sum().item<double>();
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

// The same tokens as another runner (e.g. the CUDA runner's bf16 mode and the reference
// runner's) on every HF family, logprobs within `tolerance`: greedy, then sampled groups (shared
// prompt blocks, copy on write).
inline void check_greedy_against(const RunnerFactory& make_runner, const RunnerFactory& make_other, double tolerance) {
  SmallVocabTokenizer tok;
  rollout::SamplingParams greedy, sampled;
  greedy.temperature = 0;
  greedy.max_tokens = 10;
  sampled.temperature = 0.8;
  sampled.max_tokens = 10;
  const std::vector<rollout::GenerationRequest> requests = {{tok.encode("The cat sat on the mat"), 1, greedy, 1},
                                                            {tok.encode("Hi"), 1, greedy, 2},
                                                            {tok.encode("Sam has 5 pens."), 3, sampled, 7}};
  for (const auto& family : hf_fixture_families()) {
    CAPTURE(family);
    auto model = load_hf_fixture(family);
    auto engine = engine_on(make_runner, model, tok, false);
    auto other = engine_on(make_other, model, tok, false);
    check_same_samples(engine.generate(requests), other.generate(requests), tolerance);
  }
}

// With bf16 weights, sampled logprobs are as close to the fp32 learner's as the bf16 learner's
// are (LibTorch in bf16: activations rounded too), on a dense, a MoE and an MLA family. Returns
// the worst mean |engine - fp32 learner| over them.
inline double check_bf16_logprobs(const RunnerFactory& make_bf16_runner) {
  SmallVocabTokenizer tok;
  rollout::SamplingParams params;
  params.max_tokens = 16;
  const std::vector<rollout::GenerationRequest> requests = {{tok.encode("Sam has 5 pens."), 4, params, 3},
                                                            {tok.encode("Q: 7*6?"), 2, params, 4}};
  double worst = 0.0;
  for (const std::string family : {"qwen3", "qwen3_moe", "deepseek_v3"}) {
    CAPTURE(family);
    auto fp32 = load_hf_fixture(family);
    auto engine = engine_on(make_bf16_runner, fp32, tok, false);
    const auto results = engine.generate(requests);
    const auto batch = pack_samples(requests, results, tok.pad_id());
    torch::NoGradGuard no_grad;
    rollout::EngineWeights bf16_learner(fp32, torch::kCPU, torch::kBFloat16);
    auto bf16_model = bf16_learner.model();
    const auto learner_bf16 = rl::token_logprobs(bf16_model, batch.input_ids).logprobs.to(torch::kFloat32);
    const auto learner_fp32 = rl::token_logprobs(fp32, batch.input_ids).logprobs;
    const double tokens = batch.loss_mask.sum().item<double>();
    const double engine_vs_fp32 = mean_token_gap(batch, batch.old_logprobs, learner_fp32);
    const double learner_vs_fp32 = mean_token_gap(batch, learner_bf16, learner_fp32);
    MESSAGE(family, ", bf16 weights, ", tokens, " tokens: mean |engine - fp32 learner| ", engine_vs_fp32,
            ", |bf16 learner - fp32 learner| ", learner_vs_fp32);
    CHECK(tokens > 60);
    CHECK(engine_vs_fp32 > 0);  // really rounded
    CHECK(engine_vs_fp32 < 1.5 * learner_vs_fp32);
    worst = std::max(worst, engine_vs_fp32);
  }
  return worst;
}

// A sequence's tokens and logprobs are the same bits alone, in a crowd (batched with prompts being
// prefilled and other groups decoding), and in a pool so small that sequences are preempted and
// recomputed; on a MoE family and an MLA one.
inline void check_batch_invariance(const RunnerFactory& make_runner) {
  SmallVocabTokenizer tok;
  rollout::SamplingParams params;
  params.max_tokens = 20;
  params.top_p = 0.9;
  const rollout::GenerationRequest target{tok.encode("Tom reads 12 pages a day."), 2, params, 11};
  const std::vector<rollout::GenerationRequest> crowd = {
      {tok.encode("A much longer question about apples"), 3, params, 1}, target, {tok.encode("Hi"), 2, params, 2}};
  for (const std::string family : {"qwen3_moe", "deepseek_v3"}) {
    CAPTURE(family);
    auto model = load_hf_fixture(family);
    auto alone_engine = engine_on(make_runner, model, tok, false);
    const auto alone = alone_engine.generate({target});
    auto crowd_engine = engine_on(make_runner, model, tok, false);
    const auto in_crowd = crowd_engine.generate(crowd);
    CHECK(crowd_engine.last_stats().max_batch_tokens > 4);  // really batched with the others
    // 16 blocks of 4 positions hold the longest sequence (35 + 20 tokens: 14 blocks) but not
    // everyone at once: the newest are preempted and recomputed.
    auto tight = small_steps(false);
    tight.num_blocks = 16;
    rollout::PagedEngine tight_engine(make_runner(model), tok, tight);
    const auto squeezed = tight_engine.generate(crowd);
    CHECK(tight_engine.last_stats().preemptions > 0);
    for (std::size_t s = 0; s < 2; ++s) {
      CAPTURE(s);
      const auto& want = alone[0].samples[s];
      CHECK(want.token_ids.size() >= 4);
      for (const auto* got : {&in_crowd[1].samples[s], &squeezed[1].samples[s]}) {
        CHECK(got->token_ids == want.token_ids);
        CHECK(got->logprobs == want.logprobs);  // bitwise
      }
    }
  }
}

}  // namespace r1::test
