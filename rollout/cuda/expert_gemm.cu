// Grouped expert GEMMs: a warp-level skinny GEMM over the permuted rows, built for decode, where an
// expert holds a few rows and the kernel must stream its weights at memory bandwidth. A block owns
// kTileRows rows of one expert (found by a binary search of the device offsets) and kWarps * kCols
// output columns; each warp owns kCols of them (and, for the SwiGLU, their gate and up rows: the
// activations it reads are shared by every weight row it holds). The warp walks the reduction in
// steps of 256: lane l reads the quads [s + 4l, s + 4l + 4) and [s + 128 + 4l, ...) of each of its
// weight rows (8-byte bf16 or 16-byte fp32 loads, coalesced over the warp) and of each row in use
// (float4 loads the block's warps share through L1), and keeps one fp32 accumulator per (weight
// row, activation row); rows that are padding are skipped, so a tile with one token costs one row
// of FMAs. The lanes then fold in a fixed butterfly. The order of every sum is fixed by k alone: a
// row's result depends on its own input only (batch invariance), and the fp32 and bf16 weight paths
// sum in the same order (bf16 weights give the fp32 kernel's bits on the widened values).
// Occupancy: two blocks an SM (16 warps of loads in flight), so at most 128 registers a thread —
// the 64 accumulators and two steps' weight quads; the activation row pointers sit in shared
// memory (nvcc -Xptxas -v: 115-128 registers, no spills, sm_90).
// Then the combine: one block per token, threads over the hidden dims, slots summed in order.
#include "rollout/cuda/expert_gemm.h"

#include <cstdint>
#include <limits>

#include "common/error.h"
#include "rollout/cuda/bf16.cuh"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/moe_combine.cuh"
#include "rollout/cuda/warp_reduce.cuh"

namespace r1::rollout::kernels {
namespace {

constexpr int kTileRows = kExpertGemmTileRows;
static_assert(kTileRows <= 32, "a tile's rows in use are one ballot");
constexpr int kWarps = 8;
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kStep = 2 * 4 * kWarpSize;  // k per warp step: two quads a lane
constexpr int64_t kMaxGridX = std::numeric_limits<int32_t>::max();

// Output columns a warp owns: the SwiGLU reads two weight rows per column (gate, up).
template <bool kSwiGlu>
__host__ __device__ constexpr int warp_cols() { return kSwiGlu ? 2 : 4; }
template <bool kSwiGlu>
__host__ __device__ constexpr int block_cols() { return kWarps * warp_cols<kSwiGlu>(); }

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

// Four consecutive values from k on (zeros where k + i >= limit). kVector: one aligned load (the
// caller guarantees alignment and that a quad never straddles `limit`).
template <bool kVector>
__device__ __forceinline__ float4 load_quad(const float* p, int64_t k, int64_t limit) {
  if (kVector) return k < limit ? __ldg(reinterpret_cast<const float4*>(p + k)) : make_float4(0.f, 0.f, 0.f, 0.f);
  return make_float4(k < limit ? __ldg(p + k) : 0.f, k + 1 < limit ? __ldg(p + k + 1) : 0.f,
                     k + 2 < limit ? __ldg(p + k + 2) : 0.f, k + 3 < limit ? __ldg(p + k + 3) : 0.f);
}
template <bool kVector>
__device__ __forceinline__ float4 load_quad(const uint16_t* p, int64_t k, int64_t limit) {
  if (kVector) {
    if (k >= limit) return make_float4(0.f, 0.f, 0.f, 0.f);
    const uint2 bits = __ldg(reinterpret_cast<const uint2*>(p + k));
    return make_float4(__uint_as_float(bits.x << 16), __uint_as_float(bits.x & 0xffff0000u),
                       __uint_as_float(bits.y << 16), __uint_as_float(bits.y & 0xffff0000u));
  }
  return make_float4(k < limit ? bf16_widen(p[k]) : 0.f, k + 1 < limit ? bf16_widen(p[k + 1]) : 0.f,
                     k + 2 < limit ? bf16_widen(p[k + 2]) : 0.f, k + 3 < limit ? bf16_widen(p[k + 3]) : 0.f);
}

__device__ __forceinline__ float dot4(float4 a, float4 w, float acc) {
  acc = fmaf(a.x, w.x, acc);
  acc = fmaf(a.y, w.y, acc);
  acc = fmaf(a.z, w.z, acc);
  return fmaf(a.w, w.w, acc);
}

// grid (capacity / kTileRows, ceil(n / block_cols)). kSwiGlu: a = x read through slot_of_row, two
// weights, out = silu(gate) * up; else a = h by row, one weight. W: float or uint16_t (bf16 bits).
// kVector: k % 4 == 0 and 16-byte aligned bases, so quads load as vectors (same sums either way).
template <bool kSwiGlu, class W, bool kVector>
__global__ void __launch_bounds__(kThreads, 2) expert_gemm_kernel(ExpertGemmParams p, const W* w_all, const W* w_up_all) {
  constexpr int kCols = warp_cols<kSwiGlu>();
  constexpr int kRowsW = kSwiGlu ? 2 * kCols : kCols;  // weight rows a warp holds
  const int64_t row0 = int64_t(blockIdx.x) * kTileRows;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int col0 = blockIdx.y * block_cols<kSwiGlu>() + warp * kCols;
  if (col0 >= p.n) return;  // a whole warp past the last column (its shuffles are its own)
  const int expert = expert_of_row(p.offsets, p.num_experts, row0);  // the whole tile's (uniform)
  // Rows of the tile in use (slot >= 0): bit r for row row0 + r. Uniform over the block.
  const int32_t my_slot = lane < kTileRows && row0 + lane < p.capacity ? p.slot_of_row[row0 + lane] : -1;
  const unsigned int used = __ballot_sync(kFullMask, my_slot >= 0);
  if (expert < 0) return;  // the tail past offsets[E]: rows no routing reads (at batch 1 most of capacity)
  if (used == 0) {  // all padding: zeros, no weights read
    for (int i = lane; i < kTileRows * kCols; i += kWarpSize) {
      const int64_t row = row0 + i / kCols;
      const int col = col0 + i % kCols;
      if (row < p.capacity && col < p.n) p.out[row * p.n + col] = 0.0f;
    }
    return;
  }
  // A tile in use is whole: offsets[E] is a multiple of tile, hence of kTileRows, and <= capacity.
  const int64_t k_len = p.k;
  const W* w_rows[kRowsW];
#pragma unroll
  for (int j = 0; j < kRowsW; ++j) {
    const int col = col0 + (kSwiGlu ? j / 2 : j);
    const W* base = kSwiGlu && j % 2 == 1 ? w_up_all : w_all;
    w_rows[j] = col < p.n ? base + (int64_t(expert) * p.n + col) * k_len : nullptr;
  }
  // The activation rows, in the warp's shared memory rather than 16 registers of pointers: the
  // accumulators need the registers, and a broadcast read per row and step costs nothing.
  __shared__ const float* a_rows_of[kWarps][kTileRows];
  const float** a_rows = a_rows_of[warp];
  if (lane < kTileRows)
    a_rows[lane] = my_slot < 0 ? nullptr
                   : kSwiGlu   ? p.a + int64_t(my_slot / p.top_k) * k_len
                               : p.a + (row0 + lane) * k_len;
  __syncwarp();

  float acc[kRowsW][kTileRows] = {};
#pragma unroll 2  // two steps' weight loads in flight
  for (int64_t s = 0; s < k_len; s += kStep) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int64_t k = s + half * (kStep / 2) + 4 * lane;
      float4 w[kRowsW];
#pragma unroll
      for (int j = 0; j < kRowsW; ++j)
        w[j] = w_rows[j] != nullptr ? load_quad<kVector>(w_rows[j], k, k_len) : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
      for (int r = 0; r < kTileRows; ++r) {
        if (!(used & (1u << r))) continue;  // uniform: padding rows cost nothing
        const float4 a = load_quad<kVector>(a_rows[r], k, k_len);
#pragma unroll
        for (int j = 0; j < kRowsW; ++j) acc[j][r] = dot4(a, w[j], acc[j][r]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kTileRows; ++r) {
    const int64_t row = row0 + r;
    if (!(used & (1u << r))) {  // padding inside a used tile: zeros
      if (lane < kCols && row < p.capacity && col0 + lane < p.n) p.out[row * p.n + col0 + lane] = 0.0f;
      continue;
    }
#pragma unroll
    for (int c = 0; c < kCols; ++c) {
      float out;
      if (kSwiGlu) out = silu(warp_sum(acc[2 * c][r])) * warp_sum(acc[2 * c + 1][r]);
      else out = warp_sum(acc[c][r]);
      if (lane == c && col0 + c < p.n) p.out[row * p.n + col0 + c] = out;
    }
  }
}

__global__ void moe_combine_kernel(MoeCombineParams p) {
  for (int64_t t = blockIdx.x; t < p.tokens; t += gridDim.x) {
    for (int d = threadIdx.x; d < p.hidden; d += blockDim.x)
      p.out[t * p.hidden + d] = moe_combined(p.expert_out, p.weights, p.row_of_slot, p.capacity, p.top_k, p.hidden, t, d);
  }
}

void validate(const ExpertGemmParams& p, bool swiglu, const char* name) {
  R1_ASSERT(p.capacity >= 0 && p.capacity / kTileRows < kMaxGridX, name, ": capacity = ", p.capacity);
  R1_ASSERT(p.num_experts >= 1 && p.top_k >= 1 && p.tokens >= 0, name, ": num_experts = ", p.num_experts,
            ", top_k = ", p.top_k, ", tokens = ", p.tokens);
  R1_ASSERT(p.tile >= kTileRows && p.tile % kTileRows == 0, name, ": tile = ", p.tile, " must be a multiple of ",
            kTileRows);
  const int cols = swiglu ? block_cols<true>() : block_cols<false>();
  R1_ASSERT(p.n >= 1 && p.k >= 1 && (int64_t(p.n) + cols - 1) / cols <= 65535, name, ": n = ", p.n, ", k = ", p.k);
  if (p.capacity == 0) return;
  R1_ASSERT(p.out != nullptr && p.a != nullptr && p.offsets != nullptr && p.slot_of_row != nullptr, name,
            ": out, a, offsets or slot_of_row is null");
  R1_ASSERT((p.w != nullptr) != (p.w_bf16 != nullptr), name, ": exactly one of w and w_bf16 must be set");
  if (swiglu)
    R1_ASSERT(p.w != nullptr ? p.w_up != nullptr : p.w_up_bf16 != nullptr, name,
              ": w_up (or w_up_bf16, with bf16 weights) is null");
}

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <bool kSwiGlu, class W>
void launch(const ExpertGemmParams& p, const W* w, const W* w_up, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned int>((p.capacity + kTileRows - 1) / kTileRows),
                  static_cast<unsigned int>((p.n + block_cols<kSwiGlu>() - 1) / block_cols<kSwiGlu>()));
  // Vector loads need every row start aligned: k a multiple of 4 and 16-byte aligned bases.
  if (p.k % 4 == 0 && aligned16(p.a) && aligned16(w) && aligned16(w_up))
    expert_gemm_kernel<kSwiGlu, W, true><<<grid, kThreads, 0, stream>>>(p, w, w_up);
  else
    expert_gemm_kernel<kSwiGlu, W, false><<<grid, kThreads, 0, stream>>>(p, w, w_up);
}

template <bool kSwiGlu>
void launch(const ExpertGemmParams& p, cudaStream_t stream) {
  if (p.capacity == 0) return;
  if (p.w != nullptr) launch<kSwiGlu>(p, p.w, kSwiGlu ? p.w_up : nullptr, stream);
  else launch<kSwiGlu>(p, p.w_bf16, kSwiGlu ? p.w_up_bf16 : nullptr, stream);
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
