// RoPE kernel and launcher: one warp per (token, head) row. Each lane loads its pairs into
// registers, the warp synchronizes, then each lane writes its pairs: in-place rotation is safe even
// when the interleaved input order moves dims between lanes. __fmul_rn / __fadd_rn keep nvcc from
// contracting into FMA, so the result is the reference's (and LibTorch's) bit for bit.
#include "rollout/cuda/rope.h"

#include <cstdint>
#include <limits>

#include "common/error.h"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/warp_reduce.cuh"

namespace r1::rollout::kernels {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kPairsPerLane = kRopeMaxDim / 2 / kWarpSize;
constexpr int64_t kMaxGridX = std::numeric_limits<int32_t>::max();

// grid (ceil(tokens / kWarpsPerBlock) strided, heads); block kWarpsPerBlock warps, a token each.
__global__ void __launch_bounds__(kWarpsPerBlock * kWarpSize) rope_kernel(RopeParams p) {
  const int lane = threadIdx.x % kWarpSize;
  const int head = blockIdx.y;
  const int half = p.rope_dim / 2;
  for (int64_t token = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize; token < p.tokens;
       token += int64_t(gridDim.x) * kWarpsPerBlock) {
    float* row = p.x + token * p.token_stride + int64_t(head) * p.head_stride;
    const int32_t pos = p.positions[token];
    if (pos < 0 || pos >= p.max_position) {  // device data the launcher cannot check
      for (int d = lane; d < p.rope_dim; d += kWarpSize) row[d] = NAN;
      continue;
    }
    float x1[kPairsPerLane], x2[kPairsPerLane];
#pragma unroll
    for (int j = 0; j < kPairsPerLane; ++j) {
      const int i = lane + j * kWarpSize;
      if (i < half) {
        x1[j] = p.interleaved ? row[2 * i] : row[i];
        x2[j] = p.interleaved ? row[2 * i + 1] : row[i + half];
      }
    }
    __syncwarp();  // every read of the row before any write to it
    const float* cos = p.cos_table + int64_t(pos) * p.rope_dim;
    const float* sin = p.sin_table + int64_t(pos) * p.rope_dim;
#pragma unroll
    for (int j = 0; j < kPairsPerLane; ++j) {
      const int i = lane + j * kWarpSize;
      if (i < half) {
        row[i] = __fadd_rn(__fmul_rn(x1[j], cos[i]), __fmul_rn(-x2[j], sin[i]));
        row[i + half] = __fadd_rn(__fmul_rn(x2[j], cos[i + half]), __fmul_rn(x1[j], sin[i + half]));
      }
    }
    __syncwarp();  // the next token of this warp may not start reading before these writes land
  }
}

}  // namespace

void rope_forward(const RopeParams& p, cudaStream_t stream) {
  R1_ASSERT(p.tokens >= 0, "rope: tokens = ", p.tokens);
  R1_ASSERT(p.heads >= 1 && p.heads <= 65535, "rope: heads = ", p.heads, " (at most 65535)");
  R1_ASSERT(p.rope_dim >= 2 && p.rope_dim % 2 == 0 && p.rope_dim <= kRopeMaxDim, "rope: rope_dim = ", p.rope_dim,
            " must be even, in [2, ", kRopeMaxDim, "]");
  R1_ASSERT(p.heads == 1 || p.head_stride >= p.rope_dim, "rope: head_stride = ", p.head_stride,
            " < rope_dim = ", p.rope_dim);
  R1_ASSERT(p.token_stride >= int64_t(p.heads - 1) * p.head_stride + p.rope_dim, "rope: token_stride = ",
            p.token_stride, " overlaps the next token");
  R1_ASSERT(p.max_position >= 1, "rope: max_position = ", p.max_position);
  if (p.tokens == 0) return;  // an empty batch may come with null data pointers
  R1_ASSERT(p.x != nullptr && p.cos_table != nullptr && p.sin_table != nullptr && p.positions != nullptr,
            "rope: x, cos_table, sin_table or positions is null");
  const int64_t blocks = (p.tokens + kWarpsPerBlock - 1) / kWarpsPerBlock;
  const dim3 grid(static_cast<unsigned int>(blocks < kMaxGridX ? blocks : kMaxGridX),
                  static_cast<unsigned int>(p.heads));
  rope_kernel<<<grid, kWarpsPerBlock * kWarpSize, 0, stream>>>(p);
  R1_CUDA_CHECK(cudaGetLastError());
}

}  // namespace r1::rollout::kernels
