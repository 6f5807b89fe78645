// The reference runner (rollout/reference_runner.h): the policy decomposed into the CUDA kernels'
// plain references — RMSNorm, RoPE, the paged K/V write, paged prefill attention (GQA and absorbed
// MLA), router, permutation, grouped expert FFN, combine, fused sampling — run under the paged
// engine must generate what the CPU engine and the LibTorch runner generate, on every HF family.
#include "tests/doctest_torch.h"

#include "rollout/reference_runner.h"
#include "tests/rollout/runner_parity.h"

using namespace r1;

namespace {
test::RunnerFactory reference(rollout::ReferenceRunnerOptions options = {}) {
  return [options](policy::CausalLM model) { return std::make_unique<rollout::ReferenceRunner>(model, options); };
}
const test::RunnerFactory reference_runner = reference();
const test::RunnerFactory bf16_reference_runner = reference({.bf16_weights = true});
const test::RunnerFactory bf16_kv_reference_runner = reference({.bf16_weights = true, .bf16_kv = true});
}  // namespace

TEST_CASE("reference runner: the kernels' references give the CPU engine's greedy tokens on every HF family") {
  test::check_greedy_parity(reference_runner);
}

TEST_CASE("reference runner: sampled groups share prompt blocks, copy on write, and match the LibTorch runner") {
  test::check_sampled_parity(reference_runner);
}

TEST_CASE("reference runner: refresh_weights re-reads the learner's parameters") {
  test::check_refresh(reference_runner);
}


TEST_CASE("reference runner: with bf16 weights, logprobs are as close to the fp32 learner's as the bf16 learner's") {
  SUBCASE("fp32 K/V") { test::check_bf16_logprobs(bf16_reference_runner); }
  SUBCASE("bf16 K/V") { test::check_bf16_logprobs(bf16_kv_reference_runner); }
}

TEST_CASE("reference runner: a sequence's bits are the same alone, in a crowd and when preempted") {
  test::check_batch_invariance(reference_runner);
}
