// RMSNorm on the GPU: the launcher, fp32 for now (its parameters are RmsNormParams, in
// rollout/rmsnorm_reference.h beside the reference). The kernel knows rows and
// columns of floats on the device, nothing of tensors or models; the math is policy's RMSNormImpl.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "rollout/rmsnorm_reference.h"  // RmsNormParams

namespace r1::rollout::kernels {

// Validates `params` (r1::InternalError on a bad one), then launches on `stream`, asynchronously.
// A launch failure is reported here; a fault while running surfaces at the next synchronization.
void rmsnorm_forward(const RmsNormParams& params, cudaStream_t stream);

}  // namespace r1::rollout::kernels
