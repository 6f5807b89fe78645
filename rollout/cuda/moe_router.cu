// MoE router kernel and launcher: one warp per token. The token's scores and choice values sit in
// shared memory; every selection (groups, then experts) is a warp-wide argmax under the
// reference's order (higher value, then lower id), repeated, so the result is the reference's
// whatever the thread schedule. fp32 throughout, as the policy's router.
#include "rollout/cuda/moe_router.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "common/error.h"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/warp_reduce.cuh"

namespace r1::rollout::kernels {
namespace {

constexpr int kMaxWarpsPerBlock = 4;
constexpr int kSharedBytesLimit = 48 * 1024;  // what a launch gets without opting in to more
constexpr int64_t kMaxBlocks = std::numeric_limits<int32_t>::max();  // gridDim.x limit
constexpr int32_t kNoId = 0x7fffffff;  // loses every tie; numeric_limits is host-only in device code

struct Best {
  float value;
  int32_t id;
};

__device__ bool better(float value, int32_t id, const Best& best) {
  return value > best.value || (value == best.value && id < best.id);
}

// The warp's best (value, id): the order is total, so the butterfly gives every lane the one answer.
__device__ Best warp_best(Best best) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const float value = __shfl_xor_sync(kFullMask, best.value, offset);
    const int32_t id = __shfl_xor_sync(kFullMask, best.id, offset);
    if (better(value, id, best)) best = {value, id};
  }
  return best;
}

// The best of values[0, count) by a warp, each lane scanning a stride. Entries set to -inf (taken)
// lose to every finite one, and a finite one always remains (top_k <= count).
__device__ Best warp_argmax(const float* values, int count, int lane) {
  Best best{-INFINITY, kNoId};
  for (int i = lane; i < count; i += kWarpSize) {
    if (better(values[i], i, best)) best = {values[i], i};
  }
  return warp_best(best);
}

// Per warp in shared memory: score[E], choice[E], group_score[n_group]. Tokens are strided over
// the grid so that any token count fits in gridDim.x; every loop bound is uniform across the warp,
// so the full-mask shuffles always have all 32 lanes.
__global__ void moe_router_kernel(MoeRouterParams p) {
  extern __shared__ float shared[];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  const int experts = p.num_experts, groups = p.n_group, per_group = experts / groups;
  float* score = shared + warp * (2 * experts + groups);
  float* choice = score + experts;
  float* group_score = choice + experts;

  for (int64_t token = int64_t(blockIdx.x) * warps + warp; token < p.tokens; token += int64_t(gridDim.x) * warps) {
    const float* logits = p.logits + token * experts;
    if (p.sigmoid) {
      for (int e = lane; e < experts; e += kWarpSize) score[e] = 1.0f / (1.0f + expf(-logits[e]));
    } else {
      float max = -INFINITY;
      for (int e = lane; e < experts; e += kWarpSize) max = fmaxf(max, logits[e]);
      max = warp_max(max);
      float sum = 0.0f;
      for (int e = lane; e < experts; e += kWarpSize) {
        score[e] = expf(logits[e] - max);
        sum += score[e];
      }
      sum = warp_sum(sum);
      for (int e = lane; e < experts; e += kWarpSize) score[e] /= sum;
    }
    for (int e = lane; e < experts; e += kWarpSize)
      choice[e] = p.correction_bias != nullptr ? score[e] + p.correction_bias[e] : score[e];
    __syncwarp();

    if (groups > 1) {
      for (int g = lane; g < groups; g += kWarpSize) {  // top-2 sum (sigmoid) or best (softmax)
        float first = -INFINITY, second = -INFINITY;
        for (int j = 0; j < per_group; ++j) {
          const float value = choice[g * per_group + j];
          if (value > first) {
            second = first;
            first = value;
          } else if (value > second) {
            second = value;
          }
        }
        group_score[g] = p.sigmoid ? first + second : first;
      }
      __syncwarp();
      // A kept group is marked -inf, which no (finite) group score equals.
      for (int i = 0; i < p.topk_group; ++i) {
        const Best best = warp_argmax(group_score, groups, lane);
        __syncwarp();  // every lane has read before lane 0 writes
        if (lane == 0) group_score[best.id] = -INFINITY;
        __syncwarp();
      }
      for (int e = lane; e < experts; e += kWarpSize) {
        if (group_score[e / per_group] != -INFINITY) choice[e] = 0.0f;  // dropped: 0, as the reference
      }
      __syncwarp();
    }

    int32_t my_id = 0;  // lane j keeps the j-th choice
    for (int j = 0; j < p.top_k; ++j) {
      const Best best = warp_argmax(choice, experts, lane);
      if (lane == j) my_id = best.id;
      __syncwarp();
      if (lane == 0) choice[best.id] = -INFINITY;  // taken
      __syncwarp();
    }
    float my_weight = lane < p.top_k ? score[my_id] : 0.0f;
    if (p.norm_topk_prob) {
      float sum = 0.0f;  // in slot order, as the reference, rather than as a tree
      for (int j = 0; j < p.top_k; ++j) sum += __shfl_sync(kFullMask, my_weight, j);
      my_weight /= sum + 1e-20f;
    }
    if (p.routed_scaling_factor != 1.0f) my_weight *= p.routed_scaling_factor;
    if (lane < p.top_k) {
      p.expert_ids[token * p.top_k + lane] = my_id;
      p.weights[token * p.top_k + lane] = my_weight;
    }
    __syncwarp();  // the next token overwrites score[], which lanes just read across
  }
}

}  // namespace

void moe_router_forward(const MoeRouterParams& p, cudaStream_t stream) {
  R1_ASSERT(p.tokens >= 0, "moe_router: tokens = ", p.tokens);
  R1_ASSERT(p.num_experts >= 1 && p.num_experts <= kMoeRouterMaxExperts, "moe_router: num_experts = ",
            p.num_experts, " (at most ", kMoeRouterMaxExperts, ")");
  R1_ASSERT(p.top_k >= 1 && p.top_k <= std::min(p.num_experts, kMoeRouterMaxTopK), "moe_router: top_k = ", p.top_k,
            " with ", p.num_experts, " experts (at most ", kMoeRouterMaxTopK, ")");
  R1_ASSERT(p.n_group >= 1 && p.num_experts % p.n_group == 0, "moe_router: n_group = ", p.n_group,
            " must divide num_experts = ", p.num_experts);
  R1_ASSERT(p.topk_group >= 1 && p.topk_group <= p.n_group, "moe_router: topk_group = ", p.topk_group,
            " with n_group = ", p.n_group);
  R1_ASSERT(int64_t(p.topk_group) * (p.num_experts / p.n_group) >= p.top_k, "moe_router: topk_group = ",
            p.topk_group, " groups hold fewer experts than top_k = ", p.top_k);
  R1_ASSERT(!p.sigmoid || p.n_group == 1 || p.num_experts / p.n_group >= 2,
            "moe_router: sigmoid groups need 2 experts each (n_group = ", p.n_group, ")");
  R1_ASSERT(p.routed_scaling_factor > 0.0f && std::isfinite(p.routed_scaling_factor),
            "moe_router: routed_scaling_factor = ", p.routed_scaling_factor);
  if (p.tokens == 0) return;  // an empty batch may come with null data pointers
  R1_ASSERT(p.logits != nullptr, "moe_router: logits is null");
  R1_ASSERT(p.expert_ids != nullptr && p.weights != nullptr, "moe_router: expert_ids or weights is null");

  // As many warps (tokens) a block as shared memory allows, up to kMaxWarpsPerBlock; one warp
  // always fits, since kMoeRouterMaxExperts bounds 2 * E + n_group <= 3 * E floats to 48 KiB.
  const int per_warp_bytes = (2 * p.num_experts + p.n_group) * int(sizeof(float));
  const int warps = std::clamp(kSharedBytesLimit / per_warp_bytes, 1, kMaxWarpsPerBlock);
  const int64_t blocks = std::min((p.tokens + warps - 1) / warps, kMaxBlocks);
  moe_router_kernel<<<static_cast<unsigned int>(blocks), warps * kWarpSize, warps * per_warp_bytes, stream>>>(p);
  R1_CUDA_CHECK(cudaGetLastError());
}

}  // namespace r1::rollout::kernels
