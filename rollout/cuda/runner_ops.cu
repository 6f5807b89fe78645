// The runner's element-wise kernels (see runner_ops.h): one thread per element, grid-stride loops.
#include "rollout/cuda/runner_ops.h"

#include <algorithm>
#include <cmath>

#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/bf16.cuh"

namespace r1::rollout::kernels {

namespace {

constexpr int kThreads = 256;

// Enough blocks to cover `count` once, capped: the loops stride over the rest.
unsigned blocks_for(int64_t count) {
  return unsigned(std::min<int64_t>((count + kThreads - 1) / kThreads, 65535));
}

// O: float, or uint16_t (bf16 bits: a bf16 table's rows copied exactly, an fp32 one's rounded).
template <class T, class O>
__global__ void gather_rows_kernel(O* out, const T* table, const int32_t* ids, int64_t rows, int64_t cols,
                                   int64_t table_rows) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * cols; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols, c = i % cols;
    const int32_t id = ids[r];
    store_as(out + i, (id >= 0 && id < table_rows) ? load_as_float(table[int64_t(id) * cols + c]) : nanf(""));
  }
}

__global__ void to_bf16_kernel(uint16_t* out, const float* x, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = bf16_bits_rn(x[i]);
  }
}

template <class T>
__global__ void scatter_rows_kernel(T* pool, const float* rows, const int64_t* slots, int64_t count, int64_t cols,
                                    int64_t src_stride, int64_t pool_rows) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count * cols; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols, c = i % cols;
    const int64_t slot = slots[r];
    if (slot >= 0 && slot < pool_rows) store_as(pool + slot * cols + c, rows[r * src_stride + c]);
  }
}

__global__ void add_kernel(float* x, const float* y, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    x[i] = __fadd_rn(x[i], y[i]);
}

__global__ void add_bias_kernel(float* y, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * cols; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = __fadd_rn(y[i], bias[i % cols]);
}

__global__ void swiglu_kernel(float* h, uint16_t* h_bf16, const float* gate_up, int64_t rows, int64_t width) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * width; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / width, j = i % width;
    const float g = gate_up[r * 2 * width + j], up = gate_up[r * 2 * width + width + j];
    const float v = __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), up);
    h[i] = v;
    if (h_bf16 != nullptr) store_as(h_bf16 + i, v);
  }
}

__global__ void sigmoid_scale_rows_kernel(float* x, const float* gate, int64_t rows, int64_t cols) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * cols; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = __fdiv_rn(1.0f, __fadd_rn(1.0f, expf(-gate[i / cols])));
    x[i] = __fmul_rn(x[i], g);
  }
}

template <class W>
__global__ void row_gemm_kernel(RowGemmParams p, const W* w) {
  const int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  const int64_t outputs = p.batch * p.rows * p.cols;
  for (int64_t o = warp; o < outputs; o += int64_t(gridDim.x) * blockDim.x / 32) {
    const int64_t b = o / (p.rows * p.cols), r = (o / p.cols) % p.rows, i = o % p.cols;
    const float* a = p.a + b * p.a_batch + r * p.a_row;
    const W* wi = w + b * p.w_batch + i * p.w_i;
    float sum = 0.0f;
    for (int64_t k = lane; k < p.depth; k += 32) {
      float x = a[k];
      if (sizeof(W) == 2) x = bf16_widen(bf16_bits_rn(x));
      sum = fmaf(x, load_as_float(wi[k * p.w_k]), sum);
    }
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    if (lane == 0) p.out[b * p.out_batch + r * p.out_row + i] = p.bias != nullptr ? __fadd_rn(sum, p.bias[i]) : sum;
  }
}

}  // namespace

void row_gemm_forward(const RowGemmParams& p, cudaStream_t stream) {
  R1_ASSERT(p.batch >= 0 && p.rows >= 0 && p.cols >= 0 && p.depth >= 1, "row_gemm: batch ", p.batch, ", rows ",
            p.rows, ", cols ", p.cols, ", depth ", p.depth);
  R1_ASSERT((p.w != nullptr) != (p.w_bf16 != nullptr), "row_gemm: exactly one of w and w_bf16 must be set");
  const int64_t outputs = p.batch * p.rows * p.cols;
  if (outputs == 0) return;
  const int64_t warps_per_block = kThreads / 32;
  const unsigned blocks = unsigned(std::min<int64_t>((outputs + warps_per_block - 1) / warps_per_block, 1 << 20));
  if (p.w != nullptr) row_gemm_kernel<float><<<blocks, kThreads, 0, stream>>>(p, p.w);
  else row_gemm_kernel<uint16_t><<<blocks, kThreads, 0, stream>>>(p, p.w_bf16);
  R1_CUDA_CHECK(cudaGetLastError());
}

void gather_rows_forward(float* out, const float* table, const int32_t* ids, int64_t rows, int64_t cols,
                         int64_t table_rows, cudaStream_t stream) {
  if (rows * cols == 0) return;
  gather_rows_kernel<<<blocks_for(rows * cols), kThreads, 0, stream>>>(out, table, ids, rows, cols, table_rows);
  R1_CUDA_CHECK(cudaGetLastError());
}

void gather_rows_forward(float* out, const uint16_t* table, const int32_t* ids, int64_t rows, int64_t cols,
                         int64_t table_rows, cudaStream_t stream) {
  if (rows * cols == 0) return;
  gather_rows_kernel<<<blocks_for(rows * cols), kThreads, 0, stream>>>(out, table, ids, rows, cols, table_rows);
  R1_CUDA_CHECK(cudaGetLastError());
}

void gather_rows_forward(uint16_t* out, const uint16_t* table, const int32_t* ids, int64_t rows, int64_t cols,
                         int64_t table_rows, cudaStream_t stream) {
  if (rows * cols == 0) return;
  gather_rows_kernel<<<blocks_for(rows * cols), kThreads, 0, stream>>>(out, table, ids, rows, cols, table_rows);
  R1_CUDA_CHECK(cudaGetLastError());
}

void to_bf16_forward(uint16_t* out, const float* x, int64_t count, cudaStream_t stream) {
  if (count == 0) return;
  to_bf16_kernel<<<blocks_for(count), kThreads, 0, stream>>>(out, x, count);
  R1_CUDA_CHECK(cudaGetLastError());
}

void scatter_rows_forward(float* pool, const float* rows, const int64_t* slots, int64_t count, int64_t cols,
                          int64_t src_stride, int64_t pool_rows, cudaStream_t stream) {
  if (count * cols == 0) return;
  scatter_rows_kernel<<<blocks_for(count * cols), kThreads, 0, stream>>>(pool, rows, slots, count, cols, src_stride,
                                                                         pool_rows);
  R1_CUDA_CHECK(cudaGetLastError());
}

void scatter_rows_forward(uint16_t* pool, const float* rows, const int64_t* slots, int64_t count, int64_t cols,
                          int64_t src_stride, int64_t pool_rows, cudaStream_t stream) {
  if (count * cols == 0) return;
  scatter_rows_kernel<<<blocks_for(count * cols), kThreads, 0, stream>>>(pool, rows, slots, count, cols, src_stride,
                                                                         pool_rows);
  R1_CUDA_CHECK(cudaGetLastError());
}

void add_forward(float* x, const float* y, int64_t count, cudaStream_t stream) {
  if (count == 0) return;
  add_kernel<<<blocks_for(count), kThreads, 0, stream>>>(x, y, count);
  R1_CUDA_CHECK(cudaGetLastError());
}

void add_bias_forward(float* y, const float* bias, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (rows * cols == 0) return;
  add_bias_kernel<<<blocks_for(rows * cols), kThreads, 0, stream>>>(y, bias, rows, cols);
  R1_CUDA_CHECK(cudaGetLastError());
}

void swiglu_forward(float* h, uint16_t* h_bf16, const float* gate_up, int64_t rows, int64_t width,
                    cudaStream_t stream) {
  if (rows * width == 0) return;
  swiglu_kernel<<<blocks_for(rows * width), kThreads, 0, stream>>>(h, h_bf16, gate_up, rows, width);
  R1_CUDA_CHECK(cudaGetLastError());
}

void sigmoid_scale_rows_forward(float* x, const float* gate, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (rows * cols == 0) return;
  sigmoid_scale_rows_kernel<<<blocks_for(rows * cols), kThreads, 0, stream>>>(x, gate, rows, cols);
  R1_CUDA_CHECK(cudaGetLastError());
}

}  // namespace r1::rollout::kernels
