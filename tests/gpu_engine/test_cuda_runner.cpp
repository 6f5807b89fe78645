// The CUDA runner (rollout/cuda/cuda_runner.h) under the paged engine: the parity checks its CPU
// twin, the reference runner, passes in tests/rollout — the CPU engine's greedy tokens on every HF
// family (absorbed MLA, group-limited sigmoid routing, Qwen2-MoE's gated shared expert included),
// the LibTorch runner's sampled groups and routed experts, and a weight refresh. Skips, saying so,
// where no CUDA device is present.
#include "tests/doctest_torch.h"

#include "rollout/cuda/cuda_runner.h"
#include "tests/gpu/cuda_test_support.h"
#include "tests/rollout/runner_parity.h"

using namespace r1;

namespace {
std::unique_ptr<rollout::ModelRunner> cuda_runner(policy::CausalLM model) {
  return std::make_unique<rollout::CudaRunner>(model);
}
}  // namespace

TEST_CASE("cuda runner: greedy tokens equal the CPU engine's on every HF family") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  test::check_greedy_parity(cuda_runner);
}

TEST_CASE("cuda runner: sampled groups share prompt blocks, copy on write, and match the LibTorch runner") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  test::check_sampled_parity(cuda_runner);
}

TEST_CASE("cuda runner: refresh_weights re-reads the learner's parameters") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  test::check_refresh(cuda_runner);
}

TEST_CASE("cuda runner: the KV pool is sized from the device's free memory") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  rollout::CudaRunner runner(test::load_hf_fixture("qwen3"));
  size_t free = 0, total = 0;
  R1_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  CHECK(runner.free_cache_bytes() > 0);
  CHECK(runner.free_cache_bytes() <= int64_t(free));
  CHECK(runner.weight_bytes() > 0);
}
