// The CPU reference for rollout/cuda/rmsnorm.cu (see the header): the formula, written plainly, in double.
#include "rollout/rmsnorm_reference.h"

#include <cmath>

#include "common/error.h"
#include "rollout/bf16.h"

namespace r1::rollout::kernels {

void rmsnorm_reference(const RmsNormParams& params) {
  R1_ASSERT(params.rows >= 0, "rmsnorm_reference: rows = ", params.rows);
  R1_ASSERT(params.cols > 0, "rmsnorm_reference: cols = ", params.cols);
  R1_ASSERT(params.eps >= 0.0f, "rmsnorm_reference: eps = ", params.eps);
  R1_ASSERT(params.weight != nullptr, "rmsnorm_reference: weight is null");
  if (params.rows == 0) return;
  R1_ASSERT(params.x != nullptr && params.out != nullptr, "rmsnorm_reference: x or out is null");
  R1_ASSERT((params.residual == nullptr) == (params.sum == nullptr), "rmsnorm_reference: residual and sum go together");

  for (int64_t row = 0; row < params.rows; ++row) {
    const float* x = params.x + row * params.cols;
    float* out = params.out + row * params.cols;
    if (params.residual != nullptr) {  // the fused residual add: normalise the sum
      float* sum = params.sum + row * params.cols;
      const float* residual = params.residual + row * params.cols;
      for (int64_t col = 0; col < params.cols; ++col) sum[col] = x[col] + residual[col];
      x = sum;
    }
    double sum_sq = 0.0;
    for (int64_t col = 0; col < params.cols; ++col) sum_sq += double(x[col]) * double(x[col]);
    const double inv_rms = 1.0 / std::sqrt(sum_sq / double(params.cols) + double(params.eps));
    for (int64_t col = 0; col < params.cols; ++col) {  // after the sum: out may alias x
      out[col] = static_cast<float>(double(x[col]) * inv_rms * double(params.weight[col]));
      if (params.out_bf16 != nullptr) params.out_bf16[row * params.cols + col] = bf16_bits(out[col]);
    }
  }
}

}  // namespace r1::rollout::kernels
