// Rotary position embedding for the rollout engine, in plain C++ over host float arrays: the
// definition of what rollout/cuda/rope.cu computes, and the reference it is tested against. The
// numerics are the policy's RotaryEmbedding::apply (policy/transformer.cpp), rotate-half form:
//   out[i]        = x[i] * cos[p][i]               + (-x[i + half]) * sin[p][i]
//   out[i + half] = x[i + half] * cos[p][i + half] + x[i] * sin[p][i + half]      (i < half)
// each product and the sum rounded to fp32 on its own (no fused multiply-add), as LibTorch's
// separate tensor ops do, so that the result is the policy's bit for bit.
//
// Decisions:
// - The angles are not recomputed here: cos and sin come as the policy's own tables,
//   [max_position][rope_dim], from RotaryEmbedding::angles over positions 0..max_position-1 (YaRN
//   or linear scaling and the attention factor already applied). One source of truth for the
//   frequencies; the engine builds the tables once per model.
// - Strided rows: head h of token t starts at t * token_stride + h * head_stride floats from the
//   base (x + offset), so one routine rotates q and k inside a fused projection buffer, and the decoupled RoPE
//   dims of MLA (the last rope_dim of each head's q, and the one k_pe row per token) in place.
// - `interleaved` (DeepSeek's MLA checkpoints): the input dims come as (even, odd) pairs,
//   x1[i] = x[2i], x2[i] = x[2i + 1]; the output is in rotate-half order (the policy regroups the
//   pairs into halves before rotating, and q and k alike, so q.k is unchanged). In place.
// - A position outside [0, max_position) is refused: std::invalid_argument naming the token (the
//   kernel cannot report it, and writes NaN over that token's rows instead).
#pragma once

#include <cstdint>
#include <vector>

namespace r1::rollout {

struct RotaryLayout {
  int64_t heads = 0;         // rows per token (1 for MLA's shared k_pe)
  int64_t rope_dim = 0;      // rotated dims per row, even
  int64_t token_stride = 0;  // floats from one token's first row to the next
  int64_t head_stride = 0;   // floats from one row of a token to the next; rows may not overlap
  bool interleaved = false;  // input dims in (even, odd) pairs (see above)
  int64_t offset = 0;        // floats before the first row (MLA: q_pe after the nope dims); the
                             // kernel takes the pointer to the first row instead

  // std::invalid_argument naming the field: heads or rope_dim < 1, an odd rope_dim, or strides
  // that would overlap rows (head_stride < rope_dim, token_stride < heads * head_stride).
  void validate() const;
};

// Rotates, in place, the rows of `x` (tokens = positions.size()) by the positions' angles. x must
// hold the last row: offset + (tokens - 1) * token_stride + (heads - 1) * head_stride + rope_dim
// floats at least. cos_table, sin_table: [max_position][rope_dim].
void apply_rotary_reference(std::vector<float>& x, const std::vector<int32_t>& positions,
                            const std::vector<float>& cos_table, const std::vector<float>& sin_table,
                            int64_t max_position, const RotaryLayout& layout);

}  // namespace r1::rollout
