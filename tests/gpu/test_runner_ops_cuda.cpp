// rollout/cuda runner ops: the SwiGLU of a fused gate/up GEMM (with its bf16 copy) against the
// reference runner's loop.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

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
  CHECK(h_bf16.to_host() == r1::rollout::bf16_bits(got));
}
