// Fused sampling for the CUDA rollout engine, in plain C++ over host float arrays: the definition
// of what a fused sampling kernel computes (temperature, top-k, top-p, one Philox draw per
// sequence, and the sampled token's logprob), and the reference it must reproduce token for token.
// Same options and meaning as the CPU engine's sampler (rollout/sampler.h): temperature 0 =
// greedy, top_k 0 = off, top_p 1 = off; top-k applies first, top-p to what top-k kept.
//
// Decisions:
// - logprob = log softmax of the raw logits (temperature 1, nothing masked) at the chosen token,
//   fp32: m = max, s = sum_j exp(l_j - m) (std::exp, summed in vocabulary order here; a kernel's
//   order and exp differ by rounding only), logprob = (l_t - m) - log(s).
// - Greedy (temperature 0): the argmax of the raw logits, the lowest id among equal values; no
//   random number is drawn and top_k / top_p are ignored.
// - Otherwise every token gets x_i = (l_i - m) / T (fp32, each op rounded to nearest; x in
//   [-inf, 0], the max gives +0) and a weight q_i: an integer, floor(e(x_i) * 2^40), where e is
//   sampling_exp below (a fixed polynomial using only rounded fp32 multiplies and adds, so host and
//   device give the same bits, whatever FMA contraction the build allows; e(x) = 0 for x < -28,
//   whose q would be 0 anyway; the test pins its bits). The max token
//   has q = 2^40. All sums of weights are uint64 sums, exact in any order, so a kernel's block
//   reductions give the reference's numbers bit for bit. A token whose probability relative to
//   the best is below 2^-40 (~1e-12) has weight 0 and is never drawn.
// - Order: tokens compare by sampling_key(x_i), the float's bits mapped to a uint32 that orders
//   as the floats do (-0 below +0). Ties are equal keys; a threshold keeps every token tied at it.
// - Top-k (0 < k < vocab): t_k = the largest key t with #{i : key_i >= t} >= k, found by exactly 32
//   bisection passes over [0, 2^32) (each pass a count, one block reduction in a kernel): t_k is
//   the k-th largest key, and all tokens tied with it are kept (as the CPU sampler's `< kth` mask).
//   Otherwise t_k = 0 (all kept).
// - Top-p (top_p < 1): over the top-k kept tokens, total Q = sum q_i, and G(t) = sum of q_i over
//   kept tokens with key_i > t. A token is kept iff G(key_i) < top_p * Q, i.e. the mass strictly
//   above it is below top_p: the CPU sampler's rule with ties at the boundary all kept. G is
//   non-increasing, so this is key_i >= t_p, t_p = the smallest t in [t_k, 2^32) with
//   double(G(t)) < double(top_p) * double(Q) (double products rounded to nearest), found by at
//   most 32 bisection passes (passes after convergence do nothing). The best token always stays.
// - Draw: u = philox_uniform(word 0 of philox_block(seed, offset = step, subsequence = 0)), in
//   (0, 1] (rollout/philox.h). K = sum of q over the kept set (key >= max(t_k, t_p));
//   r = min(floor(double(u) * double(K)), K - 1); the token is the smallest id i, kept, with
//   (sum of q_j over kept j <= i) > r: inverse CDF in vocabulary order. It always has q_i > 0.
// - One seed per sequence; `step` is the counter, so a sequence's draws are a function of
//   (seed, step) alone, independent of the batch.
// - vocab in [1, 2^23] (so a uint64 sum of weights cannot overflow); logits must be finite (not
//   checked, as a kernel could not report it).
// - Bad parameters and sizes throw std::invalid_argument naming the field: temperature (finite,
//   >= 0), top_k (>= 0), top_p (in (0, 1]), logits (seqs * vocab), params (seqs), vocab, seqs.
#pragma once

#include <cstdint>
#include <cstring>
#include <math.h>
#include <vector>

#include "rollout/philox.h"

namespace r1::rollout {

struct FusedSamplingParams {
  float temperature = 1.0f;  // 0: greedy
  int32_t top_k = 0;         // 0: off
  float top_p = 1.0f;        // 1: off
  uint64_t seed = 0;         // Philox key, one per sequence
  uint64_t step = 0;         // Philox counter (offset)
};

struct FusedSample {
  int32_t token = 0;
  float logprob = 0.0f;  // log softmax of the raw logits at `token`
};

constexpr int64_t kFusedSamplingMaxVocab = int64_t{1} << 23;

// Rounded fp32 ops that no compiler may contract into fused multiply-adds: on the device the
// _rn intrinsics (never contracted); on the host the product passes through an empty asm that the
// optimiser cannot see into, so a build with FMA (-march=haswell and up, where GCC contracts by
// default) still rounds the product before the add.
R1_HOST_DEVICE inline float sampling_mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  float product = a * b;
#if defined(__GNUC__)
  __asm__("" : "+m"(product));
#else
  volatile float barrier = product;
  product = barrier;
#endif
  return product;
#endif
}
R1_HOST_DEVICE inline float sampling_add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
R1_HOST_DEVICE inline float sampling_div(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

// exp(x) for x <= 0, 0 below -28 (and for -inf / NaN): k = floor(x * log2(e) + 0.5),
// r = x - k * ln2_hi - k * ln2_lo, the degree-7 Taylor polynomial of exp(r) by Horner, times 2^k
// (exact). Every op is a rounded fp32 multiply or add, so the bits are the same everywhere.
R1_HOST_DEVICE inline float sampling_exp(float x) {
  if (!(x >= -28.0f)) return 0.0f;
  const float kf = floorf(sampling_add(sampling_mul(x, 1.44269504f), 0.5f));  // exact op
  const float r = sampling_add(sampling_add(x, -sampling_mul(kf, 0.693145751953125f)),
                               -sampling_mul(kf, 1.42860677e-06f));
  float p = 1.0f / 5040.0f;
  p = sampling_add(sampling_mul(p, r), 1.0f / 720.0f);
  p = sampling_add(sampling_mul(p, r), 1.0f / 120.0f);
  p = sampling_add(sampling_mul(p, r), 1.0f / 24.0f);
  p = sampling_add(sampling_mul(p, r), 1.0f / 6.0f);
  p = sampling_add(sampling_mul(p, r), 0.5f);
  p = sampling_add(sampling_mul(p, r), 1.0f);
  p = sampling_add(sampling_mul(p, r), 1.0f);
  const int k = static_cast<int>(kf);  // in [-41, 0]
  const uint32_t bits = static_cast<uint32_t>(k + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return sampling_mul(p, scale);
}

// floor(sampling_exp(x) * 2^40): the integer weight of a token (Decisions).
R1_HOST_DEVICE inline uint64_t sampling_weight(float x) {
  return static_cast<uint64_t>(sampling_mul(sampling_exp(x), 0x1p40f));
}

// A float's order as a uint32: negative floats' bits inverted, non-negative ones' sign bit set.
R1_HOST_DEVICE inline uint32_t sampling_key(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// The uniform of (seed, step): (0, 1] (Decisions).
R1_HOST_DEVICE inline float sampling_uniform(uint64_t seed, uint64_t step) {
  return philox_uniform(philox_block(seed, step, 0).v[0]);
}

// Throws std::invalid_argument naming the field (Decisions).
void validate_sampling_params(const FusedSamplingParams& params);

// logits: [seqs x vocab] row-major; params: [seqs]. One sample per sequence.
std::vector<FusedSample> sample_reference(const std::vector<float>& logits, int64_t seqs, int64_t vocab,
                                          const std::vector<FusedSamplingParams>& params);

// The kept set of one row (logits: vocab values) under `params` (temperature > 0): 1 = kept.
std::vector<uint8_t> kept_tokens_reference(const float* logits, int64_t vocab, const FusedSamplingParams& params);

}  // namespace r1::rollout
