// What the GPU tests share: whether a device is present (and why not), the skip that says so, and
// a device array that frees itself.
#pragma once

#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/device_array.h"

namespace r1::gpu_test {

// Whether a device can run the GPU cases; if not, the reason, taken from the CUDA runtime.
inline bool cuda_device_present(std::string& reason) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    reason = r1::detail::cuda_status_text(status);
    cudaGetLastError();  // clear it, so it cannot leak into a later check
    return false;
  }
  if (count == 0) {
    reason = "cudaGetDeviceCount found 0 devices";
    return false;
  }
  return true;
}

#define R1_SKIP_WITHOUT_CUDA_DEVICE()                                       \
  do {                                                                      \
    std::string r1_reason_;                                                 \
    if (!::r1::gpu_test::cuda_device_present(r1_reason_)) {                \
      MESSAGE("no CUDA device: skipping GPU tests (" << r1_reason_ << ")"); \
      return;                                                               \
    }                                                                       \
  } while (0)

// The runner's device array (rollout/cuda/device_array.h): frees itself, copies in and out of host vectors.
using rollout::kernels::DeviceArray;

}  // namespace r1::gpu_test
