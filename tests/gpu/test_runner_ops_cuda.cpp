// rollout/cuda runner ops: the SwiGLU of a fused gate/up GEMM (with its bf16 copy) against the
// reference runner's loop.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/error.h"
#include "rollout/bf16.h"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/runner_ops.h"
#include "tests/gpu/cuda_test_support.h"
#include "tests/random_values.h"

using namespace r1::rollout::kernels;
using r1::gpu_test::DeviceArray;
using r1::test::uniform_floats;

TEST_CASE("the tests' bf16 comparison: rounding to nearest even, NaNs as NaNs whatever their bits (no device needed)") {
  using r1::gpu_test::is_bf16_rounding_of;
  CHECK(is_bf16_rounding_of({0x3f80, 0x7fff, 0xffc1}, {1.0f, NAN, -NAN}));
  CHECK(is_bf16_rounding_of({0x3f81}, {1.0f + 1.0f / 128.0f - 1.0f / 512.0f}));  // rounds up past the half
  CHECK_FALSE(is_bf16_rounding_of({0x3f80}, {NAN}));
  CHECK_FALSE(is_bf16_rounding_of({0x7f80}, {NAN}));  // infinity is no NaN
  CHECK_FALSE(is_bf16_rounding_of({0x3f80, 0x3f80}, {1.0f}));
}

TEST_CASE("gpu: swiglu over a fused gate/up row: silu(gate) * up, fp32 and bf16") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t rows = 5, width = 300;
  const auto gate_up = uniform_floats(size_t(rows * 2 * width), -6.0f, 6.0f, 31);
  std::vector<float> want(size_t(rows * width));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < width; ++j) {  // the reference runner's loop: silu(g) = g / (1 + exp(-g)), times up
      const float g = gate_up[size_t(r * 2 * width + j)], up = gate_up[size_t(r * 2 * width + width + j)];
      want[size_t(r * width + j)] = g / (1.0f + std::exp(-g)) * up;
    }
  DeviceArray<float> in(gate_up), h(want.size());
  DeviceArray<uint16_t> h_bf16(want.size());
  swiglu_forward(h.get(), h_bf16.get(), in.get(), rows, width, nullptr);
  R1_CUDA_CHECK(cudaDeviceSynchronize());
  const auto got = h.to_host();
  double worst = 0.0;
  for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, double(std::abs(got[i] - want[i])));
  CHECK(worst < 1e-5);  // expf on the device vs std::exp
  CHECK(r1::gpu_test::is_bf16_rounding_of(h_bf16.to_host(), got));
}

TEST_CASE("gpu: gather_rows from bf16 bits to bf16 bits copies rows exactly; a bad id gives NaN") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t table_rows = 10, cols = 70;
  const auto table = r1::rollout::bf16_bits(uniform_floats(size_t(table_rows * cols), -3.0f, 3.0f, 61));
  const std::vector<int32_t> ids{4, 0, 9, 4, 12};
  DeviceArray<uint16_t> d_table(table), out(ids.size() * size_t(cols));
  DeviceArray<int32_t> d_ids(ids);
  gather_rows_forward(out.get(), d_table.get(), d_ids.get(), int64_t(ids.size()), cols, table_rows, nullptr);
  R1_CUDA_CHECK(cudaDeviceSynchronize());
  const auto got = out.to_host();
  for (size_t r = 0; r + 1 < ids.size(); ++r)
    CHECK(std::equal(got.begin() + int64_t(r) * cols, got.begin() + int64_t(r + 1) * cols,
                     table.begin() + ids[r] * cols));
  CHECK(std::isnan(r1::rollout::bf16_widen(got.back())));
}
