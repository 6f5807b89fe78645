// Grouped expert GEMMs: a shared-memory tiled SGEMM over the permuted rows. A block owns
// kTileRows rows of one expert (found by a binary search of the device offsets) and kTileCols
// output columns, walks the reduction in kTileK steps through shared memory, and each thread keeps
// kColsPerThread accumulators (twice, gate and up, for the SwiGLU). The reduction runs in
// increasing k, so a row's result depends on its own input only. Then the combine: one block per
// token, threads over the hidden dims, slots summed in order.
#include "rollout/cuda/expert_gemm.h"

#include <cstdint>
#include <limits>

#include "common/error.h"
#include "rollout/cuda/cuda_check.h"

namespace r1::rollout::kernels {
namespace {

constexpr int kTileRows = kExpertGemmTileRows;
constexpr int kTileCols = 64;
constexpr int kTileK = 16;
constexpr int kThreads = 256;
constexpr int kColsPerThread = kTileRows * kTileCols / kThreads;  // 4
constexpr int kColThreads = kTileCols / kColsPerThread;           // 16 threads share a row
static_assert(kThreads == kTileRows * kColThreads, "one row per group of kColThreads threads");
constexpr int64_t kMaxGridX = std::numeric_limits<int32_t>::max();

// The expert whose segment holds `row`: the last e with offsets[e] <= row; -1 past offsets[E].
__device__ int expert_of_row(const int32_t* offsets, int experts, int64_t row) {
  if (row >= offsets[experts]) return -1;
  int lo = 0, hi = experts - 1;  // offsets[lo] <= row < offsets[hi + 1]
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (offsets[mid] <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

__device__ float silu(float g) { return g / (1.0f + expf(-g)); }

// A weight as fp32: itself, or a bf16's bits widened (exact).
__device__ float widen(float w) { return w; }
__device__ float widen(uint16_t w) { return __uint_as_float(uint32_t(w) << 16); }

// grid (ceil(capacity / kTileRows), ceil(n / kTileCols)). kSwiGlu: a = x read through slot_of_row, two
// weights, out = silu(gate) * up; else a = h by row, one weight.
// W: float or uint16_t (bf16 bits), the weights' storage; w and w_up point to that type.
template <bool kSwiGlu, class W>
__global__ void __launch_bounds__(kThreads) expert_gemm_kernel(ExpertGemmParams p, const W* w_all, const W* w_up_all) {
  __shared__ float a_tile[kTileRows][kTileK + 1];  // +1: no bank conflicts on the column reads
  __shared__ float w_tile[kTileCols][kTileK + 1];
  __shared__ float u_tile[kSwiGlu ? kTileCols : 1][kTileK + 1];
  const int64_t row0 = int64_t(blockIdx.x) * kTileRows;
  const int col0 = blockIdx.y * kTileCols;
  const int expert = expert_of_row(p.offsets, p.num_experts, row0);  // the whole tile's (uniform)
  const int local_row = threadIdx.x / kColThreads, col_lane = threadIdx.x % kColThreads;
  const int64_t row = row0 + local_row;
  float* out = p.out + row * p.n;
  if (expert < 0) {  // past the rows in use (uniform over the block): zeros, no weights read
    for (int c = 0; c < kColsPerThread && row < p.capacity; ++c) {
      const int col = col0 + col_lane + c * kColThreads;
      if (col < p.n) out[col] = 0.0f;
    }
    return;
  }
  // A tile in use is whole: offsets[E] is a multiple of tile, hence of kTileRows, and <= capacity.
  const int32_t slot = p.slot_of_row[row];
  // The A row this block row reads; null for padding.
  const float* a_row = slot < 0 ? nullptr : kSwiGlu ? p.a + int64_t(slot / p.top_k) * p.k : p.a + row * p.k;
  const W* w = w_all + int64_t(expert) * p.n * p.k;
  const W* w_up = kSwiGlu ? w_up_all + int64_t(expert) * p.n * p.k : nullptr;

  float acc[kColsPerThread] = {}, acc_up[kColsPerThread] = {};
  for (int k0 = 0; k0 < p.k; k0 += kTileK) {
    {  // A tile: one element a thread
      const int r = threadIdx.x / kTileK, kk = threadIdx.x % kTileK;
      const int32_t s = p.slot_of_row[row0 + r];
      const float* src = s < 0 ? nullptr : kSwiGlu ? p.a + int64_t(s / p.top_k) * p.k : p.a + (row0 + r) * p.k;
      a_tile[r][kk] = src != nullptr && k0 + kk < p.k ? src[k0 + kk] : 0.0f;
    }
    for (int i = threadIdx.x; i < kTileCols * kTileK; i += kThreads) {  // weight tiles: coalesced over k
      const int c = i / kTileK, kk = i % kTileK;
      const bool in = col0 + c < p.n && k0 + kk < p.k;
      const int64_t at = int64_t(col0 + c) * p.k + k0 + kk;
      w_tile[c][kk] = in ? widen(w[at]) : 0.0f;
      if (kSwiGlu) u_tile[c][kk] = in ? widen(w_up[at]) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      const float a = a_tile[local_row][kk];
#pragma unroll
      for (int c = 0; c < kColsPerThread; ++c) {
        acc[c] = fmaf(a, w_tile[col_lane + c * kColThreads][kk], acc[c]);
        if (kSwiGlu) acc_up[c] = fmaf(a, u_tile[col_lane + c * kColThreads][kk], acc_up[c]);
      }
    }
    __syncthreads();
  }
  for (int c = 0; c < kColsPerThread; ++c) {
    const int col = col0 + col_lane + c * kColThreads;
    if (col >= p.n) continue;
    out[col] = a_row == nullptr ? 0.0f : kSwiGlu ? silu(acc[c]) * acc_up[c] : acc[c];
  }
}

__global__ void moe_combine_kernel(MoeCombineParams p) {
  for (int64_t t = blockIdx.x; t < p.tokens; t += gridDim.x) {
    for (int d = threadIdx.x; d < p.hidden; d += blockDim.x) {
      float acc = 0.0f;
      for (int s = 0; s < p.top_k; ++s) {
        const int32_t row = p.row_of_slot[t * p.top_k + s];
        acc = row >= 0 && row < p.capacity ? fmaf(p.weights[t * p.top_k + s], p.expert_out[int64_t(row) * p.hidden + d], acc)
                                           : NAN;
      }
      p.out[t * p.hidden + d] = acc;
    }
  }
}

void validate(const ExpertGemmParams& p, bool swiglu, const char* name) {
  R1_ASSERT(p.capacity >= 0 && p.capacity / kTileRows < kMaxGridX, name, ": capacity = ", p.capacity);
  R1_ASSERT(p.num_experts >= 1 && p.top_k >= 1 && p.tokens >= 0, name, ": num_experts = ", p.num_experts,
            ", top_k = ", p.top_k, ", tokens = ", p.tokens);
  R1_ASSERT(p.tile >= kTileRows && p.tile % kTileRows == 0, name, ": tile = ", p.tile, " must be a multiple of ",
            kTileRows);
  R1_ASSERT(p.n >= 1 && p.k >= 1 && (int64_t(p.n) + kTileCols - 1) / kTileCols <= 65535, name, ": n = ", p.n,
            ", k = ", p.k);
  if (p.capacity == 0) return;
  R1_ASSERT(p.out != nullptr && p.a != nullptr && p.offsets != nullptr && p.slot_of_row != nullptr, name,
            ": out, a, offsets or slot_of_row is null");
  R1_ASSERT((p.w != nullptr) != (p.w_bf16 != nullptr), name, ": exactly one of w and w_bf16 must be set");
  if (swiglu)
    R1_ASSERT(p.w != nullptr ? p.w_up != nullptr : p.w_up_bf16 != nullptr, name,
              ": w_up (or w_up_bf16, with bf16 weights) is null");
}

template <bool kSwiGlu>
void launch(const ExpertGemmParams& p, cudaStream_t stream) {
  if (p.capacity == 0) return;
  const dim3 grid(static_cast<unsigned int>((p.capacity + kTileRows - 1) / kTileRows),
                  static_cast<unsigned int>((p.n + kTileCols - 1) / kTileCols));
  if (p.w != nullptr) expert_gemm_kernel<kSwiGlu, float><<<grid, kThreads, 0, stream>>>(p, p.w, p.w_up);
  else expert_gemm_kernel<kSwiGlu, uint16_t><<<grid, kThreads, 0, stream>>>(p, p.w_bf16, p.w_up_bf16);
  R1_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void expert_swiglu_forward(const ExpertGemmParams& p, cudaStream_t stream) {
  validate(p, true, "expert_swiglu");
  launch<true>(p, stream);
}

void expert_down_forward(const ExpertGemmParams& p, cudaStream_t stream) {
  validate(p, false, "expert_down");
  launch<false>(p, stream);
}

void moe_combine_forward(const MoeCombineParams& p, cudaStream_t stream) {
  R1_ASSERT(p.tokens >= 0 && p.top_k >= 1 && p.hidden >= 1 && p.capacity >= 0, "moe_combine: tokens = ", p.tokens,
            ", top_k = ", p.top_k, ", hidden = ", p.hidden, ", capacity = ", p.capacity);
  if (p.tokens == 0) return;
  R1_ASSERT(p.out != nullptr && p.expert_out != nullptr && p.weights != nullptr && p.row_of_slot != nullptr,
            "moe_combine: out, expert_out, weights or row_of_slot is null");
  const int threads = p.hidden >= 256 ? 256 : ((p.hidden + 31) / 32) * 32;
  moe_combine_kernel<<<static_cast<unsigned int>(p.tokens < kMaxGridX ? p.tokens : kMaxGridX), threads, 0, stream>>>(p);
  R1_CUDA_CHECK(cudaGetLastError());
}

}  // namespace r1::rollout::kernels
