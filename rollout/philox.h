// Philox-4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011), the counter-based generator behind cuRAND's curand_Philox4x32_10 and Random123's
// philox4x32: a 128-bit counter and a 64-bit key give 128 random bits, with no state to carry.
// One header for host and device: under nvcc every function is __host__ __device__, so a kernel
// and the CPU reference (rollout/fused_sampling.cpp) compute the same bits.
//
// Decisions:
// - The round function and constants are Random123's (and cuRAND's): multipliers 0xD2511F53,
//   0xCD9E8D57, Weyl key increments 0x9E3779B9, 0xBB67AE85; ten rounds, the key bumped between
//   rounds. Checked against Random123's kat_vectors (tests/rollout/test_fused_sampling.cpp).
// - Layout as cuRAND's: key = {seed low 32 bits, seed high 32 bits}; counter = {offset low,
//   offset high, subsequence low, subsequence high}, offset counted in 128-bit blocks (cuRAND
//   counts its offset in 32-bit outputs: curand_init(seed, subsequence, 4 * offset) followed by
//   curand() should give word 0 of philox_block(seed, offset, subsequence); not checked against
//   cuRAND itself, which the kernels do not use).
// - philox_uniform: a 32-bit word x to a float in (0, 1], exactly cuRAND's _curand_uniform:
//   float(x) (round to nearest even) * 2^-32 + 2^-33, each step rounded to nearest in fp32. The
//   product by a power of two is exact, so a fused multiply-add (which nvcc may contract this to)
//   gives the same bits as the separate multiply and add. x = 0 gives 2^-33, never 0; the largest
//   words round to exactly 1.0f.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define R1_HOST_DEVICE __host__ __device__
#else
#define R1_HOST_DEVICE
#endif

namespace r1::rollout {

struct Philox4x32 {
  uint32_t v[4];
};

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;

R1_HOST_DEVICE inline Philox4x32 philox4x32_10(Philox4x32 ctr, uint32_t key0, uint32_t key1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += kPhiloxW0;
      key1 += kPhiloxW1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * ctr.v[0];
    const uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * ctr.v[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ key0, lo1, hi0 ^ ctr.v[3] ^ key1, lo0}};
  }
  return ctr;
}

// The block at (seed, offset, subsequence), cuRAND's layout (see Decisions).
R1_HOST_DEVICE inline Philox4x32 philox_block(uint64_t seed, uint64_t offset, uint64_t subsequence) {
  const Philox4x32 ctr{{static_cast<uint32_t>(offset), static_cast<uint32_t>(offset >> 32),
                        static_cast<uint32_t>(subsequence), static_cast<uint32_t>(subsequence >> 32)}};
  return philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// A word to (0, 1]: float(x) * 2^-32 + 2^-33 (cuRAND's _curand_uniform; see Decisions).
R1_HOST_DEVICE inline float philox_uniform(uint32_t x) {
  return static_cast<float>(x) * 0x1p-32f + 0x1p-33f;
}

}  // namespace r1::rollout
