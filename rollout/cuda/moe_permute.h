// Token-to-expert permutation on the GPU: the launcher, its parameters and its workspace. What it
// computes — counts, tile-padded offsets, each slot's row and each row's slot, in the stable
// expert-major order — is permute() in rollout/moe_routing.h, its reference, bit for bit.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace r1::rollout::kernels {

// Every array is dense, on the device. A slot is a (token, k) pair, flat index t * top_k + k.
struct MoePermuteParams {
  int32_t* counts;             // [num_experts] out: slots routed to each expert
  int32_t* offsets;            // [num_experts + 1] out: tile-padded segment starts; [E] = rows in use
  int32_t* row_of_slot;        // [tokens * top_k] out: the row of each slot; -1 for an invalid id
  int32_t* slot_of_row;        // [capacity] out: the slot in each row; -1 for padding and the tail
  void* workspace;             // moe_permute_workspace_bytes(tokens * top_k, num_experts) bytes
  const int32_t* expert_ids;   // [tokens * top_k] the router's choices
  int64_t tokens;              // 0: counts and offsets are zeroed, slot_of_row set to -1
  int32_t top_k;               // >= 1
  int32_t num_experts;         // >= 1
  int32_t tile;                // >= 1: segments are padded to a multiple of it
  // Rows of slot_of_row: at least tokens * top_k + num_experts * (tile - 1), the static bound
  // (permuted_capacity in rollout/moe_routing.h), and within int32.
  int64_t capacity;
};

// Bytes of workspace for `slots` slots over `num_experts` experts: an int32 per expert per chunk
// of 256 slots. Allocate it once for the largest batch.
size_t moe_permute_workspace_bytes(int64_t slots, int32_t num_experts);

// Validates `params` (r1::InternalError on a bad one), then launches on `stream`, asynchronously:
// two memsets and three kernels, or one kernel for a step of at most 256 slots and 1024 experts;
// no host synchronization. An expert id outside [0, num_experts)
// cannot be reported from the device: its slot gets row -1 and is left out of every count.
void moe_permute_forward(const MoePermuteParams& params, cudaStream_t stream);

}  // namespace r1::rollout::kernels
