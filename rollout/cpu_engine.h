// The CPU reference engine: batched sampling on the policy's own LibTorch modules with a KV cache.
// It shares the learner's parameters, so a refresh costs nothing; it is the engine the CUDA engine
// is checked against.
#pragma once

#include "policy/tokenizer.h"
#include "policy/transformer.h"
#include "rollout/engine.h"

namespace r1::rollout {

class CpuEngine : public Engine {
 public:
  // `tokenizer` must outlive the engine; it gives EOS and the text for stop strings.
  CpuEngine(policy::CausalLM model, const policy::Tokenizer& tokenizer);
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& requests) override;
  void refresh_weights() override {}

 private:
  policy::CausalLM model_;
  const policy::Tokenizer& tokenizer_;
};

}  // namespace r1::rollout
