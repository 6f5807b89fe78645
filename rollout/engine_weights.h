// The rollout engine's own copy of the learner's weights, in the engine's dtype and device (bf16 on
// the GPU), refreshed after each optimiser step in one pass over the parameters. Issue 8: "the
// engine reads bf16 views of the learner's parameters; a refresh costs one pass over the weights,
// measured and reported".
//
// Decisions:
// - A view is a second module of the same structure (same names, so the engine code is the
//   policy's), not a reinterpretation of the learner's storage: bf16 cannot alias fp32 memory, and
//   the learner must keep its fp32 master weights. Where the dtype and device already match, the
//   learner itself is used and a refresh copies nothing (and says so: 0 bytes).
// - A refresh copies every parameter and buffer (the router's correction bias is a buffer moved by
//   load balancing, not by gradients) by name, converting on the fly: one read of the learner's
//   bytes, one write of the engine's. On CUDA it synchronizes before the clock stops, so the time
//   is the copy's, not the launch's.
// - A learner whose structure differs (a name missing on either side, a shape mismatch) is a
//   r1::InternalError naming the tensor: the engine was built for another model.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "policy/transformer.h"

namespace r1::rollout {

struct WeightRefresh {
  int64_t tensors = 0;        // parameters and buffers copied
  int64_t bytes_read = 0;     // of the learner's tensors
  int64_t bytes_written = 0;  // of the engine's
  double seconds = 0.0;
};

class EngineWeights {
 public:
  // Builds the engine's copy of `learner` on `device` in `dtype` and fills it with one refresh.
  EngineWeights(policy::CausalLM learner, torch::Device device, torch::ScalarType dtype);

  // Copies the learner's current values into the engine's tensors. Returns what it moved and how long it took.
  WeightRefresh refresh();

  // The model the engine runs: the copy, or the learner itself when no copy is needed.
  policy::CausalLM model() const { return engine_; }
  bool shares_learner() const { return shared_; }
  const WeightRefresh& last_refresh() const { return last_; }

 private:
  policy::CausalLM learner_;
  policy::CausalLM engine_;
  bool shared_ = false;
  torch::Device device_;
  WeightRefresh last_;
};

}  // namespace r1::rollout
