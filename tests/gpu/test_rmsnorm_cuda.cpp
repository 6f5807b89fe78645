// rollout/cuda RMSNorm: the CPU reference against a hand-worked row, validation, and the kernel
// against the reference on a GPU. Without a CUDA device the GPU cases pass, saying they skipped.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "rollout/cuda/cuda_check.h"
#include "rollout/bf16.h"
#include "rollout/cuda/rmsnorm.h"
#include "rollout/rmsnorm_reference.h"
#include "tests/gpu/cuda_test_support.h"
#include "tests/random_values.h"

using r1::rollout::kernels::RmsNormParams;
using r1::rollout::kernels::rmsnorm_forward;
using r1::rollout::kernels::rmsnorm_reference;
using r1::gpu_test::DeviceArray;

namespace {

// max over elements of |got - want| / max(1, |want|).
double max_relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double worst = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double diff = std::abs(double(got[i]) - double(want[i]));
    worst = std::max(worst, diff / std::max(1.0, std::abs(double(want[i]))));
  }
  return worst;
}

}  // namespace

TEST_CASE("rmsnorm_reference matches a hand-computed row") {
  // x = [1, 2, 3, 4]: mean(x^2) = 30 / 4 = 7.5, so with eps = 0 each x is divided by sqrt(7.5).
  const std::vector<float> x = {1.0f, 2.0f, 3.0f, 4.0f};
  const std::vector<float> weight = {1.0f, 0.5f, 2.0f, -1.0f};
  std::vector<float> out(4, 0.0f);
  rmsnorm_reference({out.data(), x.data(), weight.data(), /*rows=*/1, /*cols=*/4, /*eps=*/0.0f});
  const double inv_rms = 1.0 / std::sqrt(7.5);  // 0.365148...
  CHECK(out[0] == doctest::Approx(1.0 * inv_rms * 1.0).epsilon(1e-6));   //  0.365148
  CHECK(out[1] == doctest::Approx(2.0 * inv_rms * 0.5).epsilon(1e-6));   //  0.365148
  CHECK(out[2] == doctest::Approx(3.0 * inv_rms * 2.0).epsilon(1e-6));   //  2.190890
  CHECK(out[3] == doctest::Approx(4.0 * inv_rms * -1.0).epsilon(1e-6));  // -1.460593

  // eps enters under the root: with eps = 0.5, mean(x^2) + eps = 8.
  rmsnorm_reference({out.data(), x.data(), weight.data(), 1, 4, 0.5f});
  CHECK(out[0] == doctest::Approx(1.0 / std::sqrt(8.0)).epsilon(1e-6));
}

TEST_CASE("rmsnorm_reference with the residual add fused: the sum stored, normalised; the bf16 copy rounded") {
  const auto x = r1::test::uniform_floats(3 * 40, -2.0f, 2.0f, 21);
  const auto residual = r1::test::uniform_floats(3 * 40, -2.0f, 2.0f, 22);
  const auto weight = r1::test::uniform_floats(40, 0.5f, 1.5f, 23);
  std::vector<float> added(x.size()), want(x.size());
  for (size_t i = 0; i < x.size(); ++i) added[i] = x[i] + residual[i];
  rmsnorm_reference({want.data(), added.data(), weight.data(), 3, 40, 1e-6f});

  std::vector<float> stream = x, out(x.size());
  std::vector<uint16_t> bf16(x.size());
  RmsNormParams p{out.data(), stream.data(), weight.data(), 3, 40, 1e-6f};
  p.residual = residual.data();
  p.sum = stream.data();  // in place, as the runner's residual stream
  p.out_bf16 = bf16.data();
  rmsnorm_reference(p);
  CHECK(stream == added);
  CHECK(out == want);
  CHECK(bf16 == r1::rollout::bf16_bits(want));
  p.sum = nullptr;
  CHECK_THROWS_WITH_AS(rmsnorm_reference(p), doctest::Contains("residual and sum go together"), r1::InternalError);
}

TEST_CASE("rmsnorm_forward refuses bad parameters before touching the device") {
  // Validation runs before any CUDA call, so this needs no GPU.
  float dummy = 1.0f;
  const RmsNormParams good{&dummy, &dummy, &dummy, 1, 1, 1e-6f};
  auto with = [&](auto change) {
    RmsNormParams params = good;
    change(params);
    return params;
  };
  CHECK_THROWS_AS(rmsnorm_forward(with([](auto& p) { p.out = nullptr; }), nullptr), r1::InternalError);
  CHECK_THROWS_AS(rmsnorm_forward(with([](auto& p) { p.x = nullptr; }), nullptr), r1::InternalError);
  CHECK_THROWS_AS(rmsnorm_forward(with([](auto& p) { p.weight = nullptr; }), nullptr),
                  r1::InternalError);
  CHECK_THROWS_AS(rmsnorm_forward(with([](auto& p) { p.rows = -1; }), nullptr), r1::InternalError);
  CHECK_THROWS_AS(rmsnorm_forward(with([](auto& p) { p.cols = 0; }), nullptr), r1::InternalError);
  CHECK_THROWS_AS(rmsnorm_forward(with([](auto& p) { p.eps = NAN; }), nullptr), r1::InternalError);
  CHECK_THROWS_WITH_AS(rmsnorm_forward(with([](auto& p) { p.x = nullptr; }), nullptr),
                       doctest::Contains("rmsnorm: x is null"), r1::InternalError);
  // An empty batch is valid and launches nothing, even with null data pointers.
  CHECK_NOTHROW(rmsnorm_forward(with([](auto& p) {
                                  p.rows = 0;
                                  p.x = nullptr;
                                  p.out = nullptr;
                                }),
                                nullptr));
}

TEST_CASE("R1_CUDA_CHECK reports file:line, the call and CUDA's message") {
  // Checked on a status value rather than a real call, so it needs no GPU.
  CHECK_THROWS_WITH_AS(R1_CUDA_CHECK(cudaErrorInvalidValue),
                       doctest::Contains("test_rmsnorm_cuda.cpp:"), r1::InternalError);
  CHECK_THROWS_WITH_AS(R1_CUDA_CHECK(cudaErrorInvalidValue),
                       doctest::Contains("CUDA call `cudaErrorInvalidValue` failed: "
                                         "cudaErrorInvalidValue (invalid argument)"),
                       r1::InternalError);
  CHECK_NOTHROW(R1_CUDA_CHECK(cudaSuccess));
}

TEST_CASE("gpu: rmsnorm_forward matches the reference") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  for (const int64_t rows : {1, 7, 1000}) {
    for (const int64_t cols : {1, 31, 128, 4096, 5000}) {
      CAPTURE(rows);
      CAPTURE(cols);
      const auto seed = static_cast<uint32_t>(rows * 10007 + cols);
      const auto x = r1::test::uniform_floats(size_t(rows * cols), -4.0f, 4.0f, seed);
      const auto weight = r1::test::uniform_floats(size_t(cols), 0.5f, 1.5f, seed + 1);
      const float eps = 1e-6f;

      std::vector<float> want(x.size());
      rmsnorm_reference({want.data(), x.data(), weight.data(), rows, cols, eps});

      DeviceArray<float> x_dev(x), weight_dev(weight), out_dev(x.size());
      rmsnorm_forward({out_dev.get(), x_dev.get(), weight_dev.get(), rows, cols, eps}, nullptr);
      R1_CUDA_CHECK(cudaDeviceSynchronize());
      CHECK(max_relative_error(out_dev.to_host(), want) < 1e-5);

      // In place, on a stream of its own.
      cudaStream_t stream = nullptr;
      R1_CUDA_CHECK(cudaStreamCreate(&stream));
      rmsnorm_forward({x_dev.get(), x_dev.get(), weight_dev.get(), rows, cols, eps}, stream);
      R1_CUDA_CHECK(cudaStreamSynchronize(stream));
      R1_CUDA_CHECK(cudaStreamDestroy(stream));
      CHECK(max_relative_error(x_dev.to_host(), want) < 1e-5);
    }
  }
}

TEST_CASE("gpu: rmsnorm_forward with the residual add fused and a bf16 copy matches the reference") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  for (const int64_t cols : {31, 896, 2048, 5000}) {
    CAPTURE(cols);
    const int64_t rows = 9;
    const auto x = r1::test::uniform_floats(size_t(rows * cols), -3.0f, 3.0f, uint32_t(cols));
    const auto residual = r1::test::uniform_floats(size_t(rows * cols), -3.0f, 3.0f, uint32_t(cols + 1));
    const auto weight = r1::test::uniform_floats(size_t(cols), 0.5f, 1.5f, uint32_t(cols + 2));
    std::vector<float> sum = x, want(x.size());
    RmsNormParams host{want.data(), sum.data(), weight.data(), rows, cols, 1e-6f};
    host.residual = residual.data();
    host.sum = sum.data();
    rmsnorm_reference(host);

    DeviceArray<float> x_dev(x), residual_dev(residual), weight_dev(weight), out_dev(x.size());
    DeviceArray<uint16_t> bf16_dev(x.size());
    RmsNormParams p{out_dev.get(), x_dev.get(), weight_dev.get(), rows, cols, 1e-6f};
    p.residual = residual_dev.get();
    p.sum = x_dev.get();  // in place
    p.out_bf16 = bf16_dev.get();
    rmsnorm_forward(p, nullptr);
    R1_CUDA_CHECK(cudaDeviceSynchronize());
    const auto out = out_dev.to_host();
    CHECK(x_dev.to_host() == sum);  // the same fp32 adds
    CHECK(max_relative_error(out, want) < 1e-5);
    CHECK(r1::gpu_test::is_bf16_rounding_of(bf16_dev.to_host(), out));  // the kernel's own output, rounded
  }
}

TEST_CASE("gpu: rmsnorm_forward on many rows writes nothing past the last one") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  // Many more blocks than the GPU runs at once, and one guard element after the output.
  const int64_t rows = 70000;
  const int64_t cols = 33;
  const auto x = r1::test::uniform_floats(size_t(rows * cols), -1.0f, 1.0f, 7);
  const auto weight = r1::test::uniform_floats(size_t(cols), -2.0f, 2.0f, 8);
  std::vector<float> want(x.size());
  rmsnorm_reference({want.data(), x.data(), weight.data(), rows, cols, 1e-5f});

  DeviceArray<float> x_dev(x), weight_dev(weight);
  std::vector<float> out_init(x.size() + 1, 123.0f);
  DeviceArray<float> out_dev(out_init);
  rmsnorm_forward({out_dev.get(), x_dev.get(), weight_dev.get(), rows, cols, 1e-5f}, nullptr);
  R1_CUDA_CHECK(cudaDeviceSynchronize());
  auto got = out_dev.to_host();
  CHECK(got.back() == 123.0f);
  got.pop_back();
  CHECK(max_relative_error(got, want) < 1e-5);
}
