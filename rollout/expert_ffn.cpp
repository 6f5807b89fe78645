// The CPU reference for rollout/cuda/expert_gemm.cu (see the header): each expert's rows through
// its own weights, the loops written plainly.
#include "rollout/expert_ffn.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace r1::rollout {
namespace {

[[noreturn]] void refuse(const std::string& what) { throw std::invalid_argument("expert ffn: " + what); }

void require_size(const char* name, size_t have, int64_t want) {
  if (int64_t(have) != want)
    refuse(std::string(name) + " holds " + std::to_string(have) + " values, expected " + std::to_string(want));
}

// The expert owning row r, or -1 for the unused tail; segments are in expert order.
int64_t expert_of_row(const ExpertPermutation& p, int64_t row) {
  for (int64_t e = 0; e < p.num_experts; ++e)
    if (row < p.offsets[size_t(e + 1)]) return e;
  return -1;
}

void check_permutation(const ExpertPermutation& p, const ExpertFfnShape& shape) {
  shape.validate();
  if (p.num_experts != shape.num_experts)
    refuse("the permutation has " + std::to_string(p.num_experts) + " experts, the weights " +
           std::to_string(shape.num_experts));
  require_size("permutation.offsets", p.offsets.size(), p.num_experts + 1);
  require_size("permutation.slot_of_row", p.slot_of_row.size(), p.capacity);
}

float silu(float g) { return g / (1.0f + std::exp(-g)); }

}  // namespace

void ExpertFfnShape::validate() const {
  if (num_experts < 1) refuse("num_experts = " + std::to_string(num_experts));
  if (hidden < 1) refuse("hidden = " + std::to_string(hidden));
  if (intermediate < 1) refuse("intermediate = " + std::to_string(intermediate));
}

std::vector<float> expert_swiglu_reference(const ExpertPermutation& p, const std::vector<float>& x,
                                           const std::vector<float>& w_gate, const std::vector<float>& w_up,
                                           const ExpertFfnShape& s) {
  check_permutation(p, s);
  require_size("x", x.size(), p.tokens * s.hidden);
  require_size("w_gate", w_gate.size(), s.num_experts * s.intermediate * s.hidden);
  require_size("w_up", w_up.size(), s.num_experts * s.intermediate * s.hidden);
  std::vector<float> h(size_t(p.capacity * s.intermediate), 0.0f);
  for (int64_t r = 0; r < p.capacity; ++r) {
    const int32_t slot = p.slot_of_row[size_t(r)];
    if (slot < 0) continue;  // padding or tail: zeros
    const int64_t e = expert_of_row(p, r);
    const float* xr = x.data() + (slot / p.top_k) * s.hidden;
    for (int64_t j = 0; j < s.intermediate; ++j) {
      const float* wg = w_gate.data() + (e * s.intermediate + j) * s.hidden;
      const float* wu = w_up.data() + (e * s.intermediate + j) * s.hidden;
      float g = 0.0f, u = 0.0f;
      for (int64_t k = 0; k < s.hidden; ++k) {
        g += xr[k] * wg[k];
        u += xr[k] * wu[k];
      }
      h[size_t(r * s.intermediate + j)] = silu(g) * u;
    }
  }
  return h;
}

std::vector<float> expert_down_reference(const ExpertPermutation& p, const std::vector<float>& h,
                                         const std::vector<float>& w_down, const ExpertFfnShape& s) {
  check_permutation(p, s);
  require_size("h", h.size(), p.capacity * s.intermediate);
  require_size("w_down", w_down.size(), s.num_experts * s.hidden * s.intermediate);
  std::vector<float> y(size_t(p.capacity * s.hidden), 0.0f);
  for (int64_t r = 0; r < p.capacity; ++r) {
    if (p.slot_of_row[size_t(r)] < 0) continue;
    const int64_t e = expert_of_row(p, r);
    const float* hr = h.data() + r * s.intermediate;
    for (int64_t n = 0; n < s.hidden; ++n) {
      const float* w = w_down.data() + (e * s.hidden + n) * s.intermediate;
      float acc = 0.0f;
      for (int64_t j = 0; j < s.intermediate; ++j) acc += hr[j] * w[j];
      y[size_t(r * s.hidden + n)] = acc;
    }
  }
  return y;
}

}  // namespace r1::rollout
