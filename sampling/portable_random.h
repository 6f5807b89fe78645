// Draws that give the same values for a seed under every standard library: the standard
// distributions are implementation-defined, so the synthetic tasks use these instead.
#pragma once

#include <cstdint>
#include <random>

namespace r1::sampling {

// Uniform in [low, high], by rejecting the biased tail of the 64-bit draw.
inline uint64_t uniform_int(std::mt19937_64& rng, uint64_t low, uint64_t high) {
  const uint64_t span = high - low + 1;
  const uint64_t limit = UINT64_MAX - UINT64_MAX % span;
  uint64_t draw = rng();
  while (draw >= limit) draw = rng();
  return low + draw % span;
}

// Uniform in [0, 1), 53 bits.
inline double uniform_unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace r1::sampling
