// rollout/cuda fused sampling against its CPU reference (sample_reference() in
// rollout/fused_sampling.h): tokens exactly, logprobs within 1e-6 relative to max(1, |logprob|)
// (the kernel's expf / logf and float sum order differ from the host's by rounding). Validation
// runs without a device; the GPU cases pass, saying they skipped, where there is none.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/fused_sampling.h"
#include "rollout/fused_sampling.h"
#include "tests/gpu/cuda_test_support.h"
#include "tests/random_values.h"

using namespace r1::rollout;
using namespace r1::rollout::kernels;
using r1::gpu_test::DeviceArray;

namespace {

struct GpuSamples {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
};

GpuSamples run_gpu(const std::vector<float>& logits, int64_t seqs, int64_t vocab,
                   const std::vector<FusedSamplingParams>& params) {
  DeviceArray<float> d_logits(logits);
  DeviceArray<FusedSamplingParams> d_params(params);
  DeviceArray<int32_t> d_tokens(static_cast<size_t>(seqs));
  DeviceArray<float> d_logprobs(static_cast<size_t>(seqs));
  FusedSamplingKernelParams p{d_tokens.get(), d_logprobs.get(), d_logits.get(), d_params.get(), seqs, vocab};
  fused_sampling_forward(p, nullptr);
  R1_CUDA_CHECK(cudaDeviceSynchronize());
  return {d_tokens.to_host(), d_logprobs.to_host()};
}

void compare(const std::vector<float>& logits, int64_t seqs, int64_t vocab, const std::vector<FusedSamplingParams>& params) {
  const auto want = sample_reference(logits, seqs, vocab, params);
  const auto got = run_gpu(logits, seqs, vocab, params);
  for (int64_t s = 0; s < seqs; ++s) {
    CAPTURE(s);
    CHECK(got.tokens[s] == want[s].token);
    CHECK(std::abs(double(got.logprobs[s]) - double(want[s].logprob)) <=
          1e-6 * std::max(1.0, std::abs(double(want[s].logprob))));
  }
}

std::vector<FusedSamplingParams> mixed_params(int64_t seqs, uint64_t step) {
  const float temps[] = {0.0f, 0.3f, 0.7f, 1.0f, 1.5f};
  const int32_t ks[] = {0, 1, 5, 50, 1000};
  const float ps[] = {1.0f, 0.95f, 0.7f, 0.2f};
  std::vector<FusedSamplingParams> params(static_cast<size_t>(seqs));
  for (int64_t s = 0; s < seqs; ++s)
    params[s] = {temps[s % 5], ks[(s / 5) % 5], ps[(s / 25) % 4], 0x9e3779b97f4a7c15ull * uint64_t(s + 1), step + uint64_t(s)};
  return params;
}

}  // namespace

TEST_CASE("fused sampling kernel: parameter validation (no device needed)") {
  FusedSamplingKernelParams p{nullptr, nullptr, nullptr, nullptr, 0, 10};
  CHECK_NOTHROW(fused_sampling_forward(p, nullptr));  // empty batch: nothing launched
  p.vocab = 0;
  CHECK_THROWS_WITH_AS(fused_sampling_forward(p, nullptr), doctest::Contains("vocab"), r1::InternalError);
  p.vocab = kFusedSamplingMaxVocab + 1;
  CHECK_THROWS_WITH_AS(fused_sampling_forward(p, nullptr), doctest::Contains("vocab"), r1::InternalError);
  p.vocab = 10;
  p.seqs = -1;
  CHECK_THROWS_WITH_AS(fused_sampling_forward(p, nullptr), doctest::Contains("seqs"), r1::InternalError);
  p.seqs = 1;
  CHECK_THROWS_WITH_AS(fused_sampling_forward(p, nullptr), doctest::Contains("null"), r1::InternalError);
}

TEST_CASE("fused sampling kernel equals the CPU reference: tokens exactly, logprobs within 1e-6") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  for (const int64_t vocab : {int64_t{1}, int64_t{7}, int64_t{300}, int64_t{4099}, int64_t{151936}}) {
    CAPTURE(vocab);
    const int64_t seqs = 100;
    auto logits = r1::test::uniform_floats(static_cast<size_t>(seqs * vocab), -8.0f, 8.0f, uint32_t(vocab));
    for (int64_t s = 0; s < seqs; s += 3) {  // coarse rows: exact ties at the thresholds
      for (int64_t i = 0; i < vocab; ++i) logits[s * vocab + i] = std::round(logits[s * vocab + i]);
    }
    for (uint64_t step : {0ull, 12345ull}) compare(logits, seqs, vocab, mixed_params(seqs, step));
  }
}

TEST_CASE("fused sampling kernel: many draws of one row give the reference's tokens") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t vocab = 64, seqs = 4096;
  const auto row = r1::test::uniform_floats(vocab, -2.0f, 2.0f, 3);
  std::vector<float> logits;
  std::vector<FusedSamplingParams> params;
  for (int64_t s = 0; s < seqs; ++s) {
    logits.insert(logits.end(), row.begin(), row.end());
    params.push_back({0.9f, s % 2 ? 10 : 0, s % 3 ? 0.9f : 1.0f, 77, uint64_t(s)});
  }
  compare(logits, seqs, vocab, params);
}
