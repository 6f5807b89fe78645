// What the GPU tests share: whether a device is present (and why not), the skip that says so, and
// a device array that frees itself.
#pragma once

#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "rollout/cuda/cuda_check.h"
#include "rollout/bf16.h"
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

// Whether a kernel's bf16 output `bits` is `values` rounded to nearest even, element for element;
// NaNs match as NaNs (the device's canonical NaN is 0x7FFF, rollout/bf16.h keeps the payload).
inline bool is_bf16_rounding_of(const std::vector<uint16_t>& bits, const std::vector<float>& values) {
  if (bits.size() != values.size()) return false;
  for (size_t i = 0; i < bits.size(); ++i) {
    const bool nan_bits = (bits[i] & 0x7f80u) == 0x7f80u && (bits[i] & 0x007fu) != 0;
    if (values[i] != values[i] ? !nan_bits : bits[i] != rollout::bf16_bits(values[i])) return false;
  }
  return true;
}

// A launcher's validation: `refused(what, mutate)` applies `mutate` to a copy of the valid `ok`
// parameters and expects `launch` to throw r1::InternalError naming `what` (before any device work).
template <class Params, class Launch>
auto refusals_of(const Params& ok, Launch launch) {
  return [ok, launch](const char* what, auto mutate) {
    Params p = ok;
    mutate(p);
    CHECK_THROWS_WITH_AS(launch(p), doctest::Contains(what), r1::InternalError);
  };
}

// The refusals both attention launchers share (their params have out, q and fp32 / bf16 pools):
// a pool missing, and fp32 and bf16 pools mixed. `refused(message, mutate)` applies `mutate` to
// valid shapes and expects the launcher to throw `message`.
template <class Refused>
void check_pool_refusals(Refused refused) {
  static float dummy[1];
  static const uint16_t dummy_bf16[1] = {0};
  auto with_data = [](auto& p) {
    p.out = dummy;
    p.q = dummy;
  };
  const char* message = "both as fp32 or both as bf16";
  refused(message, [&](auto& p) {  // no v_pool
    with_data(p);
    p.k_pool = dummy;
  });
  refused(message, [&](auto& p) {  // mixed
    with_data(p);
    p.k_pool = dummy;
    p.v_pool = dummy;
    p.v_pool_bf16 = dummy_bf16;
  });
  refused(message, [&](auto& p) {  // bf16 K with an fp32 V
    with_data(p);
    p.k_pool_bf16 = dummy_bf16;
    p.v_pool = dummy;
  });
}

}  // namespace r1::gpu_test
