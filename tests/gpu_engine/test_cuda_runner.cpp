// The CUDA runner (rollout/cuda/cuda_runner.h) under the paged engine: the parity checks its CPU
// twin, the reference runner, passes in tests/rollout — the CPU engine's greedy tokens on every HF
// family (absorbed MLA, group-limited sigmoid routing, Qwen2-MoE's gated shared expert included),
// the LibTorch runner's sampled groups and routed experts, and a weight refresh. Skips, saying so,
// where no CUDA device is present.
#include "tests/doctest_torch.h"

#include "rollout/cuda/cuda_runner.h"
#include "rollout/reference_runner.h"
#include "tests/gpu/cuda_test_support.h"
#include "tests/rollout/runner_parity.h"

using namespace r1;

namespace {
test::RunnerFactory cuda(rollout::CudaRunnerOptions options = {}) {
  return [options](policy::CausalLM model) { return std::make_unique<rollout::CudaRunner>(model, options); };
}
test::RunnerFactory reference(rollout::ReferenceRunnerOptions options = {}) {
  return [options](policy::CausalLM model) { return std::make_unique<rollout::ReferenceRunner>(model, options); };
}
const test::RunnerFactory cuda_runner = cuda();
const test::RunnerFactory eager_cuda_runner = cuda({.cuda_graphs = false});
const test::RunnerFactory bf16_cuda_runner = cuda({.bf16_weights = true});
const test::RunnerFactory bf16_kv_cuda_runner = cuda({.bf16_weights = true, .bf16_kv = true});
const test::RunnerFactory batch_invariant_cuda_runner = cuda({.batch_invariant = true});
const test::RunnerFactory bf16_reference_runner = reference({.bf16_weights = true});
const test::RunnerFactory bf16_kv_reference_runner = reference({.bf16_weights = true, .bf16_kv = true});
}  // namespace

TEST_CASE("cuda runner: greedy tokens equal the CPU engine's on every HF family") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  SUBCASE("decode steps as CUDA graphs") { test::check_greedy_parity(cuda_runner); }
  SUBCASE("every step eager") { test::check_greedy_parity(eager_cuda_runner); }
}

TEST_CASE("cuda runner: decode runs as graph launches, one capture per ladder size used, dropped with the pool") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  test::SmallVocabTokenizer tok;
  auto model = test::load_hf_fixture("qwen3_moe");
  rollout::CudaRunnerOptions options;
  options.graph_batches = {1, 2, 4};
  auto* runner = new rollout::CudaRunner(model, options);
  rollout::PagedEngine engine(std::unique_ptr<rollout::ModelRunner>(runner), tok, test::small_steps(true));
  rollout::SamplingParams params;
  params.max_tokens = 10;
  // The group's prompt is prefilled (eagerly, in chunks); its 3 samples then decode together as
  // graph launches of the ladder's 4 (padded by one), fewer as samples finish.
  const std::vector<rollout::GenerationRequest> requests = {{tok.encode("Two plus two"), 3, params, 11}};
  const auto got = engine.generate(requests);
  CHECK(runner->graph_launches() >= 1);
  MESSAGE("graph launches ", runner->graph_launches(), ", captures ", runner->graph_captures(), ", nodes in the last ",
          runner->last_graph_nodes());
  CHECK(runner->last_graph_nodes() > 0);
  CHECK(runner->graph_captures() >= 1);
  CHECK(runner->graph_captures() <= 3);
  // Same tokens, logprobs and experts as the LibTorch runner: the padding changed nothing.
  auto torch = test::torch_engine(model, tok, true);
  const auto want = torch.generate(requests);
  test::check_same_samples(got, want, 1e-4);
  for (std::size_t s = 0; s < got[0].samples.size(); ++s)
    CHECK(got[0].samples[s].routed_experts == want[0].samples[s].routed_experts);
  // A new pool drops the graphs (they point into the old one): the next decode captures again.
  const int64_t captures = runner->graph_captures();
  runner->allocate_cache(engine.num_blocks(), 4);
  test::check_same_samples(engine.generate(requests), want, 1e-4);
  CHECK(runner->graph_captures() > captures);
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

TEST_CASE("cuda runner: bf16 weights give the bf16 reference runner's tokens, and logprobs as close to fp32 as the bf16 learner's") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  test::check_greedy_against(bf16_cuda_runner, bf16_reference_runner, 2e-3);
  const double worst = test::check_bf16_logprobs(bf16_cuda_runner);
  MESSAGE("bf16 CUDA runner: worst mean |engine - fp32 learner| logprob ", worst);
}

TEST_CASE("cuda runner: batch-invariant mode gives a sequence the same bits alone, in a crowd and when preempted") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  test::check_batch_invariance(batch_invariant_cuda_runner);
  // And it still computes the model: the CPU engine's greedy tokens on every family.
  test::check_greedy_parity(batch_invariant_cuda_runner);
}

TEST_CASE("cuda runner: a bf16 K/V pool gives the bf16 reference runner's tokens, logprobs close to fp32") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  test::check_greedy_against(bf16_kv_cuda_runner, bf16_kv_reference_runner, 2e-3);
  MESSAGE("bf16 weights and K/V: worst mean |engine - fp32 learner| logprob ", test::check_bf16_logprobs(bf16_kv_cuda_runner));
}
