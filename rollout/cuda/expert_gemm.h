// Grouped expert GEMMs on the GPU: gate/up with the SwiGLU fused into the epilogue, down, and the
// weighted combine. What they compute is expert_swiglu_reference / expert_down_reference in
// rollout/expert_ffn.h and combine() in rollout/moe_routing.h, their references; the rows come in
// the expert-major order of moe_permute_forward (rollout/cuda/moe_permute.h), whose segments are
// padded to `tile` rows so that no row tile of these kernels spans two experts. fp32 activations
// and math; the weights fp32, or bf16 (w_bf16 / w_up_bf16 instead of w / w_up: each value widened
// to fp32 exactly, so the result is the fp32 kernel's on the bf16-rounded weights).
// The GEMMs are skinny (expert_gemm.cu): a block streams its expert's weights once per 16-row tile
// with vector loads and skips the tile's padding rows — bandwidth-bound in decode, where an expert
// holds a few rows; prefill re-reads an expert's weights once per tile (no tensor cores).
// Nothing here reads a value back to the host: the grids are sized from the static capacity, and
// tiles past the rows in use (offsets[E], on the device) return at once, writing nothing (at batch 1
// the static capacity is mostly such a tail: 968 rows for OLMoE's 8 of 64 experts, tile 16) —
// CUDA-graph safe.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace r1::rollout::kernels {

constexpr int32_t kExpertGemmTileRows = 16;  // the permutation's tile must be a multiple of it

// Every array is dense and row-major, on the device. Weights in nn.Linear's layout: [E][n][k].
struct ExpertGemmParams {
  float* out;                  // [capacity, n]; padding rows get zeros, the tail past offsets[E] is not written
  const float* a;              // gate/up: x [tokens, k], row slot / top_k; down: h [capacity, k], row r
  const float* w;              // gate/up: w_gate; down: w_down. [num_experts, n, k]
  const float* w_up;           // gate/up: [num_experts, n, k]; down: unused (may be null)
  const int32_t* offsets;      // [num_experts + 1] from the permutation
  const int32_t* slot_of_row;  // [capacity] from the permutation; -1 for padding and the tail
  int64_t capacity;            // rows of out; 0 launches nothing
  int64_t tokens;              // rows of x (gate/up)
  int32_t top_k;
  int32_t num_experts;
  int32_t tile;                // the permutation's tile: a multiple of kExpertGemmTileRows
  int32_t n;                   // output columns: intermediate (gate/up) or hidden (down)
  int32_t k;                   // reduction length: hidden (gate/up) or intermediate (down)
  const uint16_t* w_bf16 = nullptr;     // bf16 bits of w, when w is null
  const uint16_t* w_up_bf16 = nullptr;  // bf16 bits of w_up, when w_up is null (gate/up)
};

// h = silu(x W_gate^T) * (x W_up^T) per expert. Validates (r1::InternalError), then launches.
void expert_swiglu_forward(const ExpertGemmParams& params, cudaStream_t stream);
// y = h W_down^T per expert. Validates (r1::InternalError), then launches.
void expert_down_forward(const ExpertGemmParams& params, cudaStream_t stream);

struct MoeCombineParams {
  float* out;                  // [tokens, hidden]
  const float* expert_out;     // [capacity, hidden]
  const float* weights;        // [tokens, top_k] the router's weights
  const int32_t* row_of_slot;  // [tokens, top_k]; -1 (an invalid expert id) gives a NaN row
  int64_t tokens;              // 0 launches nothing
  int64_t capacity;
  int32_t top_k;
  int32_t hidden;
};

// out[t] = sum over s in slot order of weights[t, s] * expert_out[row_of_slot[t, s]]: the fixed
// order (no atomics) keeps it deterministic. Validates (r1::InternalError), then launches.
void moe_combine_forward(const MoeCombineParams& params, cudaStream_t stream);

}  // namespace r1::rollout::kernels
