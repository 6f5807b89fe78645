// `r1 bench rollout --shapes ...`: the paged engine at real model shapes with random weights —
// tokens/s per batch size against the memory-bandwidth roofline measured in the same run, and
// against Hugging Face transformers' generate() on the same architecture where it is installed.
//
// Decisions:
// - A shape is a Hugging Face config.json (rollout_bench_shape), read by the policy's own family
//   translators: the C++ model and the transformers model are built from the same file, so both
//   sides run the same architecture. "olmoe-1b-7b" is OLMoE-1B-7B's sizes (2048 hidden, 16 layers,
//   64 experts, top-8, 1024 expert width, 50304 vocab) in the qwen3_moe family, which both sides
//   implement (the policy has no OLMoE family; the difference, q/k norm over all heads rather than
//   per head, costs nothing measurable).
// - Workload: B distinct prompts of prompt_tokens random ids, one sample each (no prompt blocks to
//   share: the harder case), temperature 1, no EOS (the tokenizer has none), so every sequence generates exactly
//   new_tokens tokens. tok_s = B * new_tokens / wall time of generate(), prefill included.
// - Roofline: a decode step must read every weight it uses once (for MoE layers the expected
//   number of distinct experts B tokens choose under uniform routing, E (1 - (1 - k/E)^B), plus
//   the router), the embedding rows of its tokens, and the K/V of every cached position of every
//   sequence. Summed over the decode steps (contexts prompt .. prompt + new - 1) and divided by the
//   copy bandwidth (2 * bytes / time of the best of 5 device copies of a 1 GiB tensor, 128 MiB on
//   a CPU: read plus write traffic), it gives the fastest the step sequence could run:
//   roofline_tok_s = B * new_tokens / that time. Prefill and sampling are not in it.
// - hf_tok_s: `python3 <hf_script> --config <file> ...` builds the model from the same config.json
//   with random weights and times generate() (same B, prompt, new tokens, min_new_tokens = new
//   tokens, sampling); null, with the reason in "hf_note", where python3, the script or
//   transformers is missing.
// - weight_refresh, per shape: the refresh after an optimiser step, from an fp32 learner at the
//   shape into the engine's bf16 views (EngineWeights, rollout/engine_weights.h), the fastest of 3:
//   ms, bytes read and written, and (read + written) / time against the same copy bandwidth.
// - runner: "torch" (the LibTorch runner, rollout/torch_runner.h), "cuda" (the CUDA runner of
//   the kernels, rollout/cuda/cuda_runner.h, passed in as cuda_runner by a build that has it; its
//   weights in the bench's dtype) or "null" (rollout/null_runner.h: computes nothing, so the row
//   is the engine loop alone; no transformers baseline). The JSON's "engine" names the one measured.
// - host_ms_per_step, host_fraction_of_roofline: the same workload under the null runner, run
//   after the measured one — the host's share of every step (steps are synchronous: the device
//   idles meanwhile), per step and as its total over the decode roofline's time.
// - layers > 0 cuts every shape to that many layers (a short CPU run); the figures are then for
//   that depth, and the JSON says so.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/transformer.h"
#include "rollout/model_runner.h"

namespace r1::rollout {

struct ShapeBenchOptions {
  std::vector<std::string> shapes{"qwen2.5-0.5b", "olmoe-1b-7b"};
  std::vector<int64_t> batches{1, 64, 256};
  int64_t prompt_tokens = 128;
  int64_t new_tokens = 512;
  int64_t layers = 0;                 // 0: the shape's own depth
  std::string device = "auto";        // auto: CUDA when LibTorch sees a GPU, else CPU
  std::string dtype = "bfloat16";     // or float32
  std::string hf_script = "scripts/hf_generate_bench.py";  // empty: no transformers baseline
  uint64_t seed = 0;
  std::string runner = "torch";       // or cuda, or null (Decisions)
  // Builds the CUDA runner over a model (bf16 weights or fp32); empty in a build without CUDA.
  std::function<std::unique_ptr<ModelRunner>(policy::CausalLM, bool bf16)> cuda_runner;
};

// The HF config.json of a bench shape; UserError naming the known shapes otherwise.
nlohmann::json rollout_bench_shape(const std::string& name);
std::vector<std::string> rollout_bench_shape_names();

// Bytes one decode step of `batch` sequences at `context` cached positions must read (Decisions),
// counted from the model's parameters; kv_bytes_per_token covers every layer.
double decode_step_bytes(const policy::CausalLM& model, int64_t batch, int64_t context, int64_t kv_bytes_per_token);

// Runs the bench; progress lines go to `log`. Returns {"bench": "rollout", ..., "results": [...]}.
nlohmann::json bench_rollout_shapes(const ShapeBenchOptions& options, std::ostream& log);

}  // namespace r1::rollout
