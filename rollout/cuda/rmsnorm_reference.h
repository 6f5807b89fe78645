// The plain CPU RMSNorm the CUDA kernel is tested against: host arrays, double accumulation.
#pragma once

#include "rollout/cuda/rmsnorm.h"

namespace r1::rollout::kernels {

// Same contract as rmsnorm_forward, with every pointer on the host; runs synchronously.
void rmsnorm_reference(const RmsNormParams& params);

}  // namespace r1::rollout::kernels
