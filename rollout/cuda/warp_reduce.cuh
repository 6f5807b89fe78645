// Warp- and block-wide reductions the kernels share. Warp level: butterfly shuffles, so every lane
// of a full warp gets the result with no broadcast through shared memory (all 32 lanes must take
// part). Block level: each warp reduces its own values, lane 0 stores the warp's result, and every
// thread folds the per-warp results in warp order — a fixed order, so a block's result is the same
// bits on every run whatever the scheduling of its warps.
#pragma once

namespace r1::rollout::kernels {

constexpr int kWarpSize = 32;
constexpr unsigned int kFullMask = 0xffffffffu;

struct SumOp {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {  // fmaxf: a NaN operand loses to a number, as the kernels' max-subtraction expects
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

struct MinOp {  // ids: the lowest wins
  __device__ __forceinline__ unsigned long long operator()(unsigned long long a, unsigned long long b) const {
    return b < a ? b : a;
  }
};

// T: float or unsigned long long (the types __shfl_xor_sync takes that the kernels reduce).
template <class T, class Op>
__device__ __forceinline__ T warp_reduce(T value, Op op) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) value = op(value, __shfl_xor_sync(kFullMask, value, offset));
  return value;
}

__device__ __forceinline__ float warp_sum(float value) { return warp_reduce(value, SumOp{}); }
__device__ __forceinline__ float warp_max(float value) { return warp_reduce(value, MaxOp{}); }

// The reduction of `value` over the block, returned to every thread. blockDim.x is a multiple of
// the warp size; `scratch` holds one T per warp (blockDim.x / 32). It ends with a barrier, so the
// caller may reuse `scratch` at once — and every thread of the block must call it.
template <class T, class Op>
__device__ __forceinline__ T block_reduce(T value, Op op, T* scratch) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  value = warp_reduce(value, op);
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  T total = scratch[0];
  for (int w = 1; w < warps; ++w) total = op(total, scratch[w]);
  __syncthreads();
  return total;
}

__device__ __forceinline__ float block_sum(float value, float* scratch) { return block_reduce(value, SumOp{}, scratch); }
__device__ __forceinline__ float block_max(float value, float* scratch) { return block_reduce(value, MaxOp{}, scratch); }

}  // namespace r1::rollout::kernels
