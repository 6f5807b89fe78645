// The cos/sin tables the rollout RoPE (rollout/rotary.h, rollout/cuda/rope.h) reads, taken from the
// policy's own RotaryEmbedding for every position of the model, so that the engine rotates with the
// learner's frequencies, scaling and attention factor, not a second derivation of them.
#pragma once

#include <cstdint>
#include <vector>

namespace r1::policy {
struct ModelConfig;
}

namespace r1::rollout {

struct RotaryTables {
  int64_t max_position = 0;  // rows: positions 0 .. max_position - 1
  int64_t rope_dim = 0;      // columns: the model's rope_dim() (MLA: qk_rope_head_dim)
  std::vector<float> cos;    // [max_position][rope_dim], fp32
  std::vector<float> sin;    // [max_position][rope_dim]
};

// RotaryEmbedding(model).angles(0 .. max_position - 1) in fp32, on the host.
RotaryTables rotary_tables(const policy::ModelConfig& model);

}  // namespace r1::rollout
