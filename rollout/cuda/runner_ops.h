// The small element-wise kernels the CUDA runner (rollout/cuda/cuda_runner.h) needs between its
// GEMMs and the model kernels: embedding gather, the K/V write into the paged pool, bias and
// residual adds, bf16 rounding of GEMM inputs, SwiGLU of a dense feed-forward (after its fused
// gate/up GEMM), and Qwen2-MoE's sigmoid gate on the shared expert.
// Their plain references are the loops of rollout/reference_runner.cpp, which the runner's GPU test
// compares the whole decomposition against; each is one line of arithmetic per element, in the
// same fp32 order as there (silu(g) = g / (1 + exp(-g)), then times up).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace r1::rollout::kernels {

// out[r][:] = table[ids[r]][:] (cols floats a row). An id outside [0, table_rows) gives NaNs.
void gather_rows_forward(float* out, const float* table, const int32_t* ids, int64_t rows, int64_t cols,
                         int64_t table_rows, cudaStream_t stream);
// pool[slots[r]][:] = rows[r][:] (cols floats a row; src rows `src_stride` floats apart). A slot
// outside [0, pool_rows) is not written.
void scatter_rows_forward(float* pool, const float* rows, const int64_t* slots, int64_t count, int64_t cols,
                          int64_t src_stride, int64_t pool_rows, cudaStream_t stream);
// The same into a bf16 pool: each value rounded to bf16 (to nearest even) as it is stored.
void scatter_rows_forward(uint16_t* pool, const float* rows, const int64_t* slots, int64_t count, int64_t cols,
                          int64_t src_stride, int64_t pool_rows, cudaStream_t stream);
// The same from a table of bf16 bits, widened to fp32 (exact).
void gather_rows_forward(float* out, const uint16_t* table, const int32_t* ids, int64_t rows, int64_t cols,
                         int64_t table_rows, cudaStream_t stream);
// The same from bf16 bits to bf16 bits (copied exactly): the bf16 copies of the rows to sample.
void gather_rows_forward(uint16_t* out, const uint16_t* table, const int32_t* ids, int64_t rows, int64_t cols,
                         int64_t table_rows, cudaStream_t stream);
// out[i] = x[i] rounded to bf16 (to nearest, ties to even: rollout/bf16.h), as bits: the input of
// a GEMM with bf16 weights.
void to_bf16_forward(uint16_t* out, const float* x, int64_t count, cudaStream_t stream);
// A GEMM whose every output is one warp's fixed-order sum, so that a row's result depends on its
// own input only, never on how many rows are in the batch (cuBLAS picks its algorithm, and so its
// rounding, by shape): the batch-invariant mode's linear layers and MLA's absorb / lift.
//   out[b][r][i] = sum_k a[b * a_batch + r * a_row + k] * w[b * w_batch + i * w_i + k * w_k] + bias[i]
// Lane l sums k = l, l + 32, ... in order (fmaf), then the lanes fold in a fixed butterfly order.
// With w_bf16 (bf16 bits) instead of w, the weights are widened and a is rounded to bf16 first,
// as the bf16 GEMMs do.
struct RowGemmParams {
  float* out;
  const float* a;
  const float* w = nullptr;
  const uint16_t* w_bf16 = nullptr;
  const float* bias = nullptr;  // [cols] or null
  int64_t batch = 1, rows = 0, cols = 0, depth = 0;
  int64_t a_row = 0, a_batch = 0;
  int64_t w_i = 0, w_k = 1, w_batch = 0;
  int64_t out_row = 0, out_batch = 0;
};
void row_gemm_forward(const RowGemmParams& p, cudaStream_t stream);
// x[i] += y[i], i < count.
void add_forward(float* x, const float* y, int64_t count, cudaStream_t stream);
// y[r][c] += bias[c].
void add_bias_forward(float* y, const float* bias, int64_t rows, int64_t cols, cudaStream_t stream);
// The SwiGLU of a fused gate/up GEMM: h[r][j] = silu(gate_up[r][j]) * gate_up[r][width + j] (each
// row the gate's `width` columns, then the up's). With h_bf16 set, h is also stored as bf16 bits
// (to nearest even): the down GEMM's input when its weights are bf16.
void swiglu_forward(float* h, uint16_t* h_bf16, const float* gate_up, int64_t rows, int64_t width,
                    cudaStream_t stream);
// x[r][:] *= 1 / (1 + exp(-gate[r])).
void sigmoid_scale_rows_forward(float* x, const float* gate, int64_t rows, int64_t cols, cudaStream_t stream);

}  // namespace r1::rollout::kernels
