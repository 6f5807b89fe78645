// Seeded random test data shared by the test binaries, the LibTorch-free GPU test among them:
// standard library only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace r1::test {

// `count` floats uniform in [low, high), the same for the same seed on every run and machine
// (std::mt19937; the distribution's mapping is libstdc++'s, fixed for this toolchain).
inline std::vector<float> uniform_floats(std::size_t count, float low, float high, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> values(count);
  for (auto& value : values) value = dist(rng);
  return values;
}

}  // namespace r1::test
