// The CPU reference for rollout/cuda/rope.cu: the policy's rotate-half RoPE written plainly, one
// rounding per product and sum (see rotary.h).
#include "rollout/rotary.h"

#include <stdexcept>
#include <string>

namespace r1::rollout {
namespace {

[[noreturn]] void refuse(const std::string& what) { throw std::invalid_argument("rotary: " + what); }

// a * b + c * d with each operation rounded to float on its own. volatile keeps the compiler from
// fusing a multiply into the add where the target has FMA (-ffp-contract would allow it).
float products_sum(float a, float b, float c, float d) {
  volatile float left = a * b;
  volatile float right = c * d;
  return left + right;
}

}  // namespace

void RotaryLayout::validate() const {
  if (heads < 1) refuse("heads = " + std::to_string(heads));
  if (rope_dim < 2 || rope_dim % 2 != 0) refuse("rope_dim = " + std::to_string(rope_dim) + " must be even and >= 2");
  if (heads > 1 && head_stride < rope_dim)
    refuse("head_stride = " + std::to_string(head_stride) + " < rope_dim = " + std::to_string(rope_dim));
  const int64_t token_span = (heads - 1) * head_stride + rope_dim;
  if (token_stride < token_span)
    refuse("token_stride = " + std::to_string(token_stride) + " overlaps the next token (rows span " +
           std::to_string(token_span) + ")");
}

void apply_rotary_reference(std::vector<float>& x, const std::vector<int32_t>& positions,
                            const std::vector<float>& cos_table, const std::vector<float>& sin_table,
                            int64_t max_position, const RotaryLayout& layout) {
  layout.validate();
  const int64_t dim = layout.rope_dim, half = dim / 2, tokens = int64_t(positions.size());
  if (max_position < 1) refuse("max_position = " + std::to_string(max_position));
  if (int64_t(cos_table.size()) != max_position * dim || int64_t(sin_table.size()) != max_position * dim)
    refuse("cos/sin tables hold " + std::to_string(cos_table.size()) + "/" + std::to_string(sin_table.size()) +
           " floats, not max_position * rope_dim = " + std::to_string(max_position * dim));
  if (tokens == 0) return;
  if (layout.offset < 0) refuse("offset = " + std::to_string(layout.offset));
  const int64_t needed = layout.offset + (tokens - 1) * layout.token_stride + (layout.heads - 1) * layout.head_stride + dim;
  if (int64_t(x.size()) < needed)
    refuse("x holds " + std::to_string(x.size()) + " floats, the rows need " + std::to_string(needed));

  std::vector<float> x1(static_cast<size_t>(half)), x2(static_cast<size_t>(half));
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t p = positions[size_t(t)];
    if (p < 0 || p >= max_position)
      refuse("token " + std::to_string(t) + ": position " + std::to_string(p) + " outside [0, " +
             std::to_string(max_position) + ")");
    const float* cos = cos_table.data() + p * dim;
    const float* sin = sin_table.data() + p * dim;
    for (int64_t h = 0; h < layout.heads; ++h) {
      float* row = x.data() + layout.offset + t * layout.token_stride + h * layout.head_stride;
      for (int64_t i = 0; i < half; ++i) {  // read the whole row first: interleaved output moves dims
        x1[size_t(i)] = layout.interleaved ? row[2 * i] : row[i];
        x2[size_t(i)] = layout.interleaved ? row[2 * i + 1] : row[i + half];
      }
      for (int64_t i = 0; i < half; ++i) {
        row[i] = products_sum(x1[size_t(i)], cos[i], -x2[size_t(i)], sin[i]);
        row[i + half] = products_sum(x2[size_t(i)], cos[i + half], x1[size_t(i)], sin[i + half]);
      }
    }
  }
}

}  // namespace r1::rollout
