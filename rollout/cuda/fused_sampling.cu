// Fused sampling kernel and launcher: one block per sequence, kThreads threads. Every reduction
// is of a max (exact in any order), an (value, id) argmax under a total order, or of integers
// (exact in any order), so the token is the reference's whatever the schedule; only the logprob's
// float sum (and expf / logf) round differently from the host's.
#include "rollout/cuda/fused_sampling.h"

#include <cstdint>
#include <limits>

#include "common/error.h"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/warp_reduce.cuh"

namespace r1::rollout::kernels {
namespace {

// A block a sequence, as wide as a block goes: at batch 1 one block walks the whole vocabulary
// (152K logits for Qwen), so its passes are bound by how many threads share them.
constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / kWarpSize;
constexpr int64_t kMaxBlocks = std::numeric_limits<int32_t>::max();

// The lowest id among the maxima: each thread's candidate, then a block minimum of ids holding
// the max value.
__device__ int64_t block_first_max(const float* row, int64_t vocab, float m, unsigned long long* scratch) {
  unsigned long long best = ~0ull;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads)
    if (row[i] == m && static_cast<unsigned long long>(i) < best) best = i;
  return static_cast<int64_t>(block_reduce(best, MinOp{}, scratch));
}

__device__ float scaled(float logit, float m, float temperature) {
  return sampling_div(sampling_add(logit, -m), temperature);
}

__global__ void __launch_bounds__(kThreads) fused_sampling_kernel(FusedSamplingKernelParams p) {
  __shared__ unsigned long long scratch_u64[kWarps];
  __shared__ float scratch_f32[kWarps];
  __shared__ unsigned long long warp_totals[kWarps];
  __shared__ long long chosen;
  const int64_t seq = blockIdx.x;
  const int64_t vocab = p.vocab;
  const float* row = p.logits + seq * vocab;
  const FusedSamplingParams sp = p.params[seq];

  float m = -INFINITY;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads) m = fmaxf(m, row[i]);
  m = block_max(m, scratch_f32);

  int64_t token = 0;
  if (sp.temperature == 0.0f) {
    token = block_first_max(row, vocab, m, scratch_u64);
  } else {
    const float t = sp.temperature;
    // Top-k: the largest key t_k with count(key >= t_k) >= k (32 passes).
    uint32_t t_k = 0;
    if (sp.top_k > 0 && sp.top_k < vocab) {
      unsigned long long lo = 0, hi = 1ull << 32;
      for (int pass = 0; pass < 32; ++pass) {
        const unsigned long long mid = lo + (hi - lo) / 2;
        unsigned long long count = 0;
        for (int64_t i = threadIdx.x; i < vocab; i += kThreads) count += sampling_key(scaled(row[i], m, t)) >= mid;
        count = block_reduce(count, SumOp{}, scratch_u64);
        if (count >= static_cast<unsigned long long>(sp.top_k)) lo = mid; else hi = mid;
      }
      t_k = static_cast<uint32_t>(lo);
    }
    uint32_t threshold = t_k;
    if (sp.top_p < 1.0f) {
      unsigned long long total = 0;
      for (int64_t i = threadIdx.x; i < vocab; i += kThreads) {
        const float x = scaled(row[i], m, t);
        total += sampling_key(x) >= t_k ? sampling_weight(x) : 0;
      }
      total = block_reduce(total, SumOp{}, scratch_u64);
      const double limit = __dmul_rn(static_cast<double>(sp.top_p), static_cast<double>(total));
      long long lo = static_cast<long long>(t_k) - 1, hi = 0xFFFFFFFFll;
      for (int pass = 0; pass < 32; ++pass) {
        if (hi - lo <= 1) break;  // uniform: every thread holds the same lo, hi
        const long long mid = lo + (hi - lo) / 2;
        unsigned long long above = 0;
        for (int64_t i = threadIdx.x; i < vocab; i += kThreads) {
          const float x = scaled(row[i], m, t);
          const uint32_t key = sampling_key(x);
          above += (key >= t_k && key > static_cast<unsigned long long>(mid)) ? sampling_weight(x) : 0;
        }
        above = block_reduce(above, SumOp{}, scratch_u64);
        if (static_cast<double>(above) < limit) hi = mid; else lo = mid;
      }
      threshold = static_cast<uint32_t>(hi);
    }
    // Inverse CDF in vocabulary order: thread j owns the contiguous chunk [j * chunk, (j+1) * chunk).
    const int64_t chunk = (vocab + kThreads - 1) / kThreads;
    const int64_t begin = threadIdx.x * chunk;
    const int64_t end = begin + chunk < vocab ? begin + chunk : vocab;
    unsigned long long mine = 0;
    for (int64_t i = begin; i < end; ++i) {
      const float x = scaled(row[i], m, t);
      mine += sampling_key(x) >= threshold ? sampling_weight(x) : 0;
    }
    // The weight before this thread's chunk (an exclusive scan: within the warp by shuffles, then
    // the warps before it) and the total. Integer sums: exact in any order.
    const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
    unsigned long long inclusive = mine;
    for (int offset = 1; offset < kWarpSize; offset *= 2) {
      const unsigned long long up = __shfl_up_sync(kFullMask, inclusive, offset);
      if (lane >= offset) inclusive += up;
    }
    if (lane == kWarpSize - 1) warp_totals[warp] = inclusive;
    if (threadIdx.x == 0) chosen = -1;
    __syncthreads();
    unsigned long long before = inclusive - mine, kept_total = 0;
    for (int w = 0; w < kWarps; ++w) {
      if (w < warp) before += warp_totals[w];
      kept_total += warp_totals[w];
    }
    const float u = sampling_uniform(sp.seed, sp.step);
    unsigned long long r = static_cast<unsigned long long>(__dmul_rn(static_cast<double>(u), static_cast<double>(kept_total)));
    if (r > kept_total - 1) r = kept_total - 1;
    if (before <= r && r < before + mine) {  // exactly one thread: the crossing is in its chunk
      unsigned long long cumulative = before;
      for (int64_t i = begin; i < end; ++i) {
        const float x = scaled(row[i], m, t);
        cumulative += sampling_key(x) >= threshold ? sampling_weight(x) : 0;
        if (cumulative > r) {
          chosen = i;
          break;
        }
      }
    }
    __syncthreads();
    token = chosen >= 0 ? chosen : 0;  // always found (kept_total >= 2^40 > r); guarded all the same
  }

  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads) sum += expf(row[i] - m);
  sum = block_sum(sum, scratch_f32);
  if (threadIdx.x == 0) {
    p.tokens[seq] = static_cast<int32_t>(token);
    p.logprobs[seq] = (row[token] - m) - logf(sum);
  }
}

}  // namespace

void fused_sampling_forward(const FusedSamplingKernelParams& p, cudaStream_t stream) {
  R1_ASSERT(p.seqs >= 0 && p.seqs <= kMaxBlocks, "fused_sampling: seqs = ", p.seqs);
  R1_ASSERT(p.vocab >= 1 && p.vocab <= kFusedSamplingMaxVocab, "fused_sampling: vocab = ", p.vocab,
            " (at most ", kFusedSamplingMaxVocab, ")");
  if (p.seqs == 0) return;  // an empty batch may come with null data pointers
  R1_ASSERT(p.logits != nullptr && p.params != nullptr, "fused_sampling: logits or params is null");
  R1_ASSERT(p.tokens != nullptr && p.logprobs != nullptr, "fused_sampling: tokens or logprobs is null");
  fused_sampling_kernel<<<static_cast<unsigned int>(p.seqs), kThreads, 0, stream>>>(p);
  R1_CUDA_CHECK(cudaGetLastError());
}

}  // namespace r1::rollout::kernels
