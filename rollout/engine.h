// The rollout engine interface: token ids and sampling settings in; token ids, per-token logprobs
// and finish reasons out. Engines never see rewards. The CPU engine and the CUDA engine implement it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace r1::rollout {

struct SamplingParams {
  double temperature = 1.0;  // 0: greedy
  double top_p = 1.0;        // nucleus: keep the smallest set of tokens with this much mass
  int64_t top_k = 0;         // 0: off
  int64_t max_tokens = 128;  // completion tokens at most
  // Generation stops once the completion text ends with one of these; the stop string is kept in
  // the output (R1 templates stop at "</answer>", which the format reward must see).
  std::vector<std::string> stop;

  template <class V>
  void visit(V& v) {
    v("temperature", temperature);
    v("top_p", top_p);
    v("top_k", top_k);
    v("max_tokens", max_tokens);
    v("stop", stop);
    v.check(temperature >= 0, "temperature", "must be >= 0");
    v.check(top_p > 0 && top_p <= 1, "top_p", "must be in (0, 1]");
    v.check(top_k >= 0, "top_k", "must be >= 0 (0 turns it off)");
    v.check(max_tokens >= 1, "max_tokens", "must be >= 1");
  }
};

struct GenerationRequest {
  std::vector<int64_t> prompt_ids;
  int64_t num_samples = 1;  // N completions of this prompt, sampled in one batch
  SamplingParams params;
  uint64_t seed = 0;        // the request's samples are a deterministic function of this seed
};

enum class FinishReason { stop, length };  // stop: EOS or a stop string; length: max_tokens reached
const char* finish_reason_name(FinishReason reason);

struct Sample {
  std::vector<int64_t> token_ids;  // the completion (no prompt)
  // log p(token) under the model's unmodified distribution (temperature 1, no top-k/top-p), i.e.
  // the logprob the learner computes for the same token.
  std::vector<float> logprobs;
  FinishReason finish_reason = FinishReason::length;
  // Filled only by an engine asked to record routing (PagedEngineConfig::record_experts) on a MoE
  // model: the experts each MoE layer chose for every position the model was fed — the prompt and
  // all completion tokens but the last, whose routing no logprob depends on — flattened as
  // [position][moe layer][top_k], so the learner can replay the sampler's routing.
  std::vector<int32_t> routed_experts;
};

struct GenerationResult {
  std::vector<Sample> samples;  // num_samples of them, in order
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& requests) = 0;
  // Called after each optimiser step so the engine samples from the new weights.
  virtual void refresh_weights() = 0;
};

}  // namespace r1::rollout
