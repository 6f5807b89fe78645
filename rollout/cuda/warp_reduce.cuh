// Warp-wide reductions the kernels share: every lane of a full warp gets the result (butterfly
// shuffles), so no broadcast through shared memory is needed. All 32 lanes must take part.
#pragma once

namespace r1::rollout::kernels {

constexpr int kWarpSize = 32;
constexpr unsigned int kFullMask = 0xffffffffu;

__device__ __forceinline__ float warp_sum(float value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(kFullMask, value, offset);
  return value;
}

__device__ __forceinline__ float warp_max(float value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    value = fmaxf(value, __shfl_xor_sync(kFullMask, value, offset));
  return value;
}

}  // namespace r1::rollout::kernels
