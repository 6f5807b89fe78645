// Token-to-expert permutation kernels and launcher: the reference's stable expert-major order,
// computed without atomics, so that every output is a function of the expert ids alone.
//
// Determinism: integer atomics would give deterministic counts but not positions — which slot of
// an expert lands in which row would follow the thread schedule. Instead a slot's row is
//   offsets[e] + (slots of e in earlier chunks) + (slots of e before it in its own chunk),
// which is its rank in flat-index order, exactly the reference's single pass:
// 1. rank: one block per chunk of 256 slots; each thread counts the equal ids before it in the
//    chunk (a shared-memory scan, O(256) per slot), and the last slot of each expert in the chunk
//    writes that chunk's count for the expert (each entry has one writer, the rest stay 0).
// 2. scan: one block; per expert, an exclusive prefix over the chunks in place (the totals are
//    the counts), then a block-wide exclusive scan over experts of the tile-padded counts.
// 3. scatter: each slot adds the two prefixes to its rank and writes both maps.
// Work is O(slots * 256 + chunks * experts); the scan's one block walks the chunks serially, which
// is cheap at rollout batch sizes (512 chunks = 131072 slots). A step of one chunk (decode at small
// batch) runs all of it in one block and one launch (permute_small_kernel).
#include "rollout/cuda/moe_permute.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "common/error.h"
#include "rollout/cuda/cuda_check.h"

namespace r1::rollout::kernels {
namespace {

constexpr int kChunk = 256;          // slots per block in the rank and scatter kernels
constexpr int kMaxScanThreads = 1024;
constexpr int kMaxSmallExperts = 1024;  // permute_small_kernel keeps counts and offsets in shared memory
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

int64_t chunks_for(int64_t slots) { return (slots + kChunk - 1) / kChunk; }

__global__ void rank_kernel(const int32_t* expert_ids, int64_t slots, int32_t experts, int32_t* rank_of_slot,
                            int32_t* chunk_counts) {
  __shared__ int32_t ids[kChunk];
  const int64_t slot = int64_t(blockIdx.x) * kChunk + threadIdx.x;
  int32_t id = slot < slots ? expert_ids[slot] : -1;
  if (id < 0 || id >= experts) id = -1;  // out of range: in no count, row -1
  ids[threadIdx.x] = id;
  __syncthreads();
  if (slot >= slots) return;
  if (id < 0) {
    rank_of_slot[slot] = -1;
    return;
  }
  int32_t rank = 0;
  bool last = true;
  for (int j = 0; j < kChunk; ++j) {  // every thread reads ids[j] at once: a broadcast
    if (ids[j] != id) continue;
    if (j < int(threadIdx.x)) ++rank;
    else if (j > int(threadIdx.x)) last = false;
  }
  rank_of_slot[slot] = rank;
  if (last) chunk_counts[int64_t(blockIdx.x) * experts + id] = rank + 1;
}

// offsets[e] = the tile-padded counts of the experts before e, offsets[experts] = their total: an
// exclusive, block-wide (Hillis-Steele) scan per blockDim.x experts. Every thread of the block
// calls it (it has barriers); counts are read after its first barrier. No sum overflows: the
// padded total is at most the capacity, checked to fit int32.
__device__ void scan_padded_counts(const int32_t* counts, int32_t experts, int32_t tile, int32_t* offsets) {
  __shared__ int32_t partial[kMaxScanThreads];
  __shared__ int32_t carry;
  const int tid = threadIdx.x, threads = blockDim.x;
  if (tid == 0) carry = 0;
  __syncthreads();
  for (int base = 0; base < experts; base += threads) {
    const int e = base + tid;
    const int32_t padded = e < experts ? (counts[e] + tile - 1) / tile * tile : 0;
    partial[tid] = padded;
    __syncthreads();
    for (int stride = 1; stride < threads; stride *= 2) {
      const int32_t add = tid >= stride ? partial[tid - stride] : 0;
      __syncthreads();
      partial[tid] += add;
      __syncthreads();
    }
    if (e < experts) offsets[e] = carry + partial[tid] - padded;
    __syncthreads();  // every thread has read carry
    if (tid == threads - 1) carry += partial[tid];
    __syncthreads();
  }
  if (tid == 0) offsets[experts] = carry;
}

// One block. chunk_counts[c][e] becomes the slots of e in chunks before c.
__global__ void scan_kernel(int32_t* chunk_counts, int64_t chunks, int32_t experts, int32_t tile, int32_t* counts,
                            int32_t* offsets) {
  const int tid = threadIdx.x, threads = blockDim.x;
  for (int e = tid; e < experts; e += threads) {
    int32_t total = 0;
    for (int64_t c = 0; c < chunks; ++c) {  // threads take consecutive experts: coalesced rows
      int32_t* entry = chunk_counts + c * experts + e;
      const int32_t n = *entry;
      *entry = total;
      total += n;
    }
    counts[e] = total;
  }
  __syncthreads();
  scan_padded_counts(counts, experts, tile, offsets);
}

__global__ void scatter_kernel(const int32_t* expert_ids, int64_t slots, int32_t experts,
                               const int32_t* chunk_prefix, const int32_t* offsets, int32_t* row_of_slot,
                               int32_t* slot_of_row) {
  const int64_t slot = int64_t(blockIdx.x) * kChunk + threadIdx.x;
  if (slot >= slots) return;
  const int32_t id = expert_ids[slot];
  if (id < 0 || id >= experts) return;  // row_of_slot is -1 already
  const int32_t row = offsets[id] + chunk_prefix[int64_t(blockIdx.x) * experts + id] + row_of_slot[slot];
  row_of_slot[slot] = row;
  slot_of_row[row] = static_cast<int32_t>(slot);
}

// The whole permutation in one block, for a step of at most kChunk slots (decode at small batch:
// 32 tokens at top-8): the -1 fill, the ranks, the scan and the scatter of the kernels above, in
// the same arithmetic, one launch instead of two memsets and three kernels. blockDim.x >= kChunk.
__global__ void __launch_bounds__(kMaxScanThreads) permute_small_kernel(MoePermuteParams p, int64_t slots) {
  __shared__ int32_t ids[kChunk];
  __shared__ int32_t counts[kMaxSmallExperts], offsets[kMaxSmallExperts + 1];
  const int tid = threadIdx.x, threads = blockDim.x, experts = p.num_experts;
  for (int64_t row = tid; row < p.capacity; row += threads) p.slot_of_row[row] = -1;
  for (int e = tid; e < experts; e += threads) counts[e] = 0;
  if (tid < kChunk) {
    int32_t id = tid < slots ? p.expert_ids[tid] : -1;
    ids[tid] = id >= 0 && id < experts ? id : -1;  // out of range: in no count, row -1
  }
  __syncthreads();
  const int32_t id = tid < kChunk ? ids[tid] : -1;
  int32_t rank = 0;
  if (tid < slots && id >= 0) {
    bool last = true;
    for (int j = 0; j < kChunk; ++j) {  // a broadcast read, as in rank_kernel
      if (ids[j] != id) continue;
      if (j < tid) ++rank;
      else if (j > tid) last = false;
    }
    if (last) counts[id] = rank + 1;  // one writer per expert
  }
  scan_padded_counts(counts, experts, p.tile, offsets);  // its barriers order the counts above
  __syncthreads();  // offsets[experts] is written after its last barrier
  for (int e = tid; e <= experts; e += threads) {
    p.offsets[e] = offsets[e];
    if (e < experts) p.counts[e] = counts[e];
  }
  if (tid < slots) {  // after the barriers: the -1 fill above is done
    const int32_t row = id >= 0 ? offsets[id] + rank : -1;
    p.row_of_slot[tid] = row;
    if (row >= 0) p.slot_of_row[row] = tid;
  }
}

}  // namespace

size_t moe_permute_workspace_bytes(int64_t slots, int32_t num_experts) {
  R1_ASSERT(slots >= 0 && num_experts >= 1, "moe_permute_workspace_bytes: slots = ", slots,
            ", num_experts = ", num_experts);
  return static_cast<size_t>(chunks_for(slots)) * static_cast<size_t>(num_experts) * sizeof(int32_t);
}

void moe_permute_forward(const MoePermuteParams& p, cudaStream_t stream) {
  R1_ASSERT(p.tokens >= 0 && p.tokens <= kInt32Max, "moe_permute: tokens = ", p.tokens);
  R1_ASSERT(p.top_k >= 1, "moe_permute: top_k = ", p.top_k);
  R1_ASSERT(p.num_experts >= 1, "moe_permute: num_experts = ", p.num_experts);
  R1_ASSERT(p.tile >= 1, "moe_permute: tile = ", p.tile);
  const int64_t slots = p.tokens * p.top_k;
  const int64_t bound = slots + int64_t(p.num_experts) * (p.tile - 1);
  R1_ASSERT(p.capacity >= bound && p.capacity <= kInt32Max, "moe_permute: capacity = ", p.capacity,
            " rows, needs tokens * top_k + num_experts * (tile - 1) = ", bound, " within int32");
  R1_ASSERT(p.counts != nullptr && p.offsets != nullptr, "moe_permute: counts or offsets is null");
  R1_ASSERT(p.capacity == 0 || p.slot_of_row != nullptr, "moe_permute: slot_of_row is null");
  if (slots > 0) {
    R1_ASSERT(p.expert_ids != nullptr && p.row_of_slot != nullptr, "moe_permute: expert_ids or row_of_slot is null");
    R1_ASSERT(p.workspace != nullptr, "moe_permute: workspace is null");
  }

  const int scan_threads = static_cast<int>(std::min<int64_t>((p.num_experts + 31) / 32 * 32, kMaxScanThreads));
  if (slots <= kChunk && p.num_experts <= kMaxSmallExperts) {  // one launch (permute_small_kernel)
    permute_small_kernel<<<1, std::max(scan_threads, kChunk), 0, stream>>>(p, slots);
    R1_CUDA_CHECK(cudaGetLastError());
    return;
  }
  const int64_t chunks = chunks_for(slots);
  auto* chunk_counts = static_cast<int32_t*>(p.workspace);
  if (p.capacity > 0) {
    R1_CUDA_CHECK(cudaMemsetAsync(p.slot_of_row, 0xff, size_t(p.capacity) * sizeof(int32_t), stream));  // -1
  }
  if (slots > 0) {
    R1_CUDA_CHECK(cudaMemsetAsync(chunk_counts, 0, moe_permute_workspace_bytes(slots, p.num_experts), stream));
    rank_kernel<<<static_cast<unsigned int>(chunks), kChunk, 0, stream>>>(p.expert_ids, slots, p.num_experts,
                                                                           p.row_of_slot, chunk_counts);
    R1_CUDA_CHECK(cudaGetLastError());
  }
  scan_kernel<<<1, scan_threads, 0, stream>>>(chunk_counts, chunks, p.num_experts, p.tile, p.counts, p.offsets);
  R1_CUDA_CHECK(cudaGetLastError());
  if (slots > 0) {
    scatter_kernel<<<static_cast<unsigned int>(chunks), kChunk, 0, stream>>>(
        p.expert_ids, slots, p.num_experts, chunk_counts, p.offsets, p.row_of_slot, p.slot_of_row);
    R1_CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace r1::rollout::kernels
