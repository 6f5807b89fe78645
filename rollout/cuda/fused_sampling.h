// Fused sampling on the GPU: the launcher and its parameters. One block per sequence: the max,
// the top-k and top-p thresholds (bisection passes, each a block reduction), the Philox draw and
// the inverse CDF, and the token's raw logprob, in one kernel. What it computes, bit for bit for
// the token, is sample_reference() in rollout/fused_sampling.h, its reference: the weights are
// integers (exact sums in any order) computed by the shared host/device functions there.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "rollout/fused_sampling.h"

namespace r1::rollout::kernels {

// Every array is dense and row-major, on the device.
struct FusedSamplingKernelParams {
  int32_t* tokens;                     // [seqs] out
  float* logprobs;                     // [seqs] out: log softmax of the raw logits at the token
  const float* logits;                 // [seqs, vocab] fp32, finite
  const FusedSamplingParams* params;   // [seqs], each valid (validate_sampling_params, on the host)
  int64_t seqs;                        // 0 launches nothing; at most 2^31 - 1 (gridDim.x)
  int64_t vocab;                       // in [1, kFusedSamplingMaxVocab]
};

// Validates the sizes and pointers (r1::InternalError on a bad one), then launches on `stream`,
// asynchronously. The per-sequence parameters are on the device and cannot be checked here.
void fused_sampling_forward(const FusedSamplingKernelParams& params, cudaStream_t stream);

}  // namespace r1::rollout::kernels
