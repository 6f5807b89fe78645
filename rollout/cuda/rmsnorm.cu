// RMSNorm kernel and launcher: one block per row, a warp-shuffle then shared-memory sum of squares,
// then a second pass that scales. fp32 in, fp32 out, fp32 accumulation; optionally the residual
// add fused in front and a bf16 copy of the output (RmsNormParams).
#include "rollout/cuda/rmsnorm.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "common/error.h"
#include "rollout/cuda/bf16.cuh"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/moe_combine.cuh"
#include "rollout/cuda/warp_reduce.cuh"

namespace r1::rollout::kernels {
namespace {

constexpr int kMaxThreads = 1024;  // the per-block limit on every architecture we build for
constexpr int64_t kMaxBlocks = std::numeric_limits<int32_t>::max();  // gridDim.x limit

// Where a row's residual comes from: none, a dense array, or a MoE layer's expert combine.
struct NoResidual {
  static constexpr bool kAdds = false;
};
struct DenseResidual {
  static constexpr bool kAdds = true;
  const float* values;
  int64_t cols;
  __device__ float operator()(int64_t row, int64_t col) const { return values[row * cols + col]; }
};
struct MoeResidual {
  static constexpr bool kAdds = true;
  RmsNormMoeResidual moe;
  int64_t cols;
  __device__ float operator()(int64_t row, int64_t col) const {
    return moe_combined(moe.expert_out, moe.weights, moe.row_of_slot, moe.capacity, moe.top_k, cols, row, col);
  }
};

// Rows are strided over the grid so that any row count fits in gridDim.x. `out` may alias `x`:
// each element is read in the first pass before the barrier, and rewritten by the thread that
// reads it in the second. With a residual, the first pass stores x + residual to `sum`, and the
// second reads it back (each thread its own elements).
template <class Residual>
__global__ void __launch_bounds__(kMaxThreads) rmsnorm_kernel(RmsNormParams params, Residual residual) {
  __shared__ float warp_sums[kMaxThreads / kWarpSize];
  for (int64_t row = blockIdx.x; row < params.rows; row += gridDim.x) {
    const float* x = params.x + row * params.cols;
    float* out = params.out + row * params.cols;
    float sum_sq = 0.0f;
    if constexpr (Residual::kAdds) {
      float* sum = params.sum + row * params.cols;
      for (int64_t col = threadIdx.x; col < params.cols; col += blockDim.x) {
        const float v = __fadd_rn(x[col], residual(row, col));
        sum[col] = v;
        sum_sq = fmaf(v, v, sum_sq);
      }
      x = sum;
    } else {
      for (int64_t col = threadIdx.x; col < params.cols; col += blockDim.x) sum_sq = fmaf(x[col], x[col], sum_sq);
    }
    sum_sq = block_sum(sum_sq, warp_sums);
    const float inv_rms = rsqrtf(sum_sq / static_cast<float>(params.cols) + params.eps);
    for (int64_t col = threadIdx.x; col < params.cols; col += blockDim.x) {
      const float v = x[col] * inv_rms * params.weight[col];
      out[col] = v;
      if (params.out_bf16 != nullptr) params.out_bf16[row * params.cols + col] = bf16_bits_rn(v);
    }
  }
}

// Enough warps to give each thread one column, up to the block limit: the op is bandwidth-bound,
// and more threads on a row keep more loads in flight.
int threads_for(int64_t cols) {
  const int64_t warps = (cols + kWarpSize - 1) / kWarpSize;
  return static_cast<int>(std::min<int64_t>(warps * kWarpSize, kMaxThreads));
}

void validate(const RmsNormParams& params) {
  R1_ASSERT(params.rows >= 0, "rmsnorm: rows = ", params.rows);
  R1_ASSERT(params.cols > 0, "rmsnorm: cols = ", params.cols);
  R1_ASSERT(params.rows <= std::numeric_limits<int64_t>::max() / params.cols,
            "rmsnorm: rows * cols overflows (", params.rows, " x ", params.cols, ")");
  R1_ASSERT(params.eps >= 0.0f, "rmsnorm: eps = ", params.eps);  // also refuses NaN
  R1_ASSERT(params.weight != nullptr, "rmsnorm: weight is null");
  if (params.rows == 0) return;  // an empty batch may come with null data pointers
  R1_ASSERT(params.x != nullptr, "rmsnorm: x is null");
  R1_ASSERT(params.out != nullptr, "rmsnorm: out is null");
  R1_ASSERT((params.residual == nullptr) == (params.sum == nullptr), "rmsnorm: residual and sum go together");
}

template <class Residual>
void launch(const RmsNormParams& params, Residual residual, cudaStream_t stream) {
  if (params.rows == 0) return;
  const int threads = threads_for(params.cols);
  const auto blocks = static_cast<unsigned int>(std::min(params.rows, kMaxBlocks));
  rmsnorm_kernel<<<blocks, threads, 0, stream>>>(params, residual);
  R1_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void rmsnorm_forward(const RmsNormParams& params, cudaStream_t stream) {
  validate(params);
  if (params.residual != nullptr) launch(params, DenseResidual{params.residual, params.cols}, stream);
  else launch(params, NoResidual{}, stream);
}

void rmsnorm_forward(const RmsNormParams& params, const RmsNormMoeResidual& residual, cudaStream_t stream) {
  R1_ASSERT(params.residual == nullptr, "rmsnorm: a MoE residual and a dense one");
  R1_ASSERT(params.rows == 0 || params.sum != nullptr, "rmsnorm: a MoE residual needs sum");
  RmsNormParams checked = params;
  checked.residual = params.sum;  // stands for the MoE residual in the checks
  validate(checked);
  R1_ASSERT(residual.top_k >= 1 && residual.capacity >= 0, "rmsnorm: MoE residual of top_k = ", residual.top_k,
            ", capacity = ", residual.capacity);
  if (params.rows == 0) return;
  R1_ASSERT(residual.expert_out != nullptr && residual.weights != nullptr && residual.row_of_slot != nullptr,
            "rmsnorm: the MoE residual's expert_out, weights or row_of_slot is null");
  launch(params, MoeResidual{residual, params.cols}, stream);
}

}  // namespace r1::rollout::kernels
