// bf16 on the host, standard library only: rounding fp32 to bf16 bits (to nearest, ties to even,
// as LibTorch's c10::BFloat16 and CUDA's __float2bfloat16_rn) and widening them back (exact). The
// engine's bf16 weights are these bits; the references round with them to compute what the bf16
// kernels compute.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace r1::rollout {

inline uint16_t bf16_bits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) return uint16_t((bits >> 16) | 0x40u);  // NaN stays NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t(bits >> 16);
}

inline float bf16_widen(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

inline float bf16_round(float x) { return bf16_widen(bf16_bits(x)); }

inline std::vector<uint16_t> bf16_bits(const std::vector<float>& x) {
  std::vector<uint16_t> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = bf16_bits(x[i]);
  return out;
}

inline void bf16_round_in_place(std::vector<float>& x) {
  for (auto& v : x) v = bf16_round(v);
}

}  // namespace r1::rollout
