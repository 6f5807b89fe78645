// make_engine(): the CPU engine, or the paged engine on the LibTorch or the CUDA runner.
#include "stages/engine_factory.h"

#include "common/error.h"
#include "rollout/cpu_engine.h"
#include "rollout/paged_engine.h"
#include "rollout/torch_runner.h"
#if defined(R1_HAVE_CUDA_RUNNER)
#include "rollout/cuda/cuda_runner.h"
#endif

namespace r1::stages {

void check_engine_available(const rollout::EngineConfig& config) {
  if (config.kind != "cuda") return;
#if defined(R1_HAVE_CUDA_RUNNER)
  std::string why;
  R1_CHECK(rollout::CudaRunner::device_available(&why), "engine.kind: cuda, but ", why, "; use engine.kind: paged or cpu");
#else
  R1_FAIL("engine.kind: cuda, but this r1 was built without the CUDA runner (no CUDA toolkit at configure time); "
          "use engine.kind: paged or cpu");
#endif
}

std::unique_ptr<rollout::Engine> make_engine(const rollout::EngineConfig& config, policy::CausalLM model,
                                             const policy::Tokenizer& tokenizer) {
  if (config.kind == "cpu") return std::make_unique<rollout::CpuEngine>(model, tokenizer);
  rollout::PagedEngineConfig paged;
  paged.block_tokens = config.block_tokens;
  paged.num_blocks = config.num_blocks;
  paged.memory_fraction = config.memory_fraction;
  paged.scheduler.max_tokens_per_step = config.max_tokens_per_step;
  paged.scheduler.max_running = config.max_running;
  paged.scheduler.prefill_chunk = config.prefill_chunk;
  std::unique_ptr<rollout::ModelRunner> runner;
  if (config.kind == "paged") {
    rollout::TorchRunnerOptions options;
    options.batch_invariant = config.batch_invariant;
    runner = std::make_unique<rollout::TorchRunner>(model, options);
  } else {
    R1_CHECK(config.kind == "cuda", "engine.kind: '", config.kind, "' (cpu, paged or cuda)");
    check_engine_available(config);
#if defined(R1_HAVE_CUDA_RUNNER)
    rollout::CudaRunnerOptions options;
    options.bf16_weights = config.bf16_weights;
    options.bf16_kv = config.bf16_kv;
    options.cuda_graphs = config.cuda_graphs;
    options.batch_invariant = config.batch_invariant;
    runner = std::make_unique<rollout::CudaRunner>(model, options);
#endif
  }
  return std::make_unique<rollout::PagedEngine>(std::move(runner), tokenizer, paged);
}

}  // namespace r1::stages
