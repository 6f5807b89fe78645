// The CUDA side of the one error header: R1_CUDA_CHECK turns a failed runtime call into
// r1::InternalError carrying file:line, the call's text and the library's own message. It knows
// nothing of what was being computed; callers that can say more should catch and rethrow.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "common/error.h"

// The generator every GPU library check is made from (R1_CUBLAS_CHECK and R1_NCCL_CHECK join
// R1_CUDA_CHECK later): evaluate `expr` once, compare its status with `ok`, and on mismatch throw
// with `describe(status)`. `text` is the caller's #expr, stringized before macro expansion.
#define R1_GPU_LIBRARY_CHECK(library, text, expr, ok, describe)                            \
  do {                                                                                      \
    const auto r1_gpu_status_ = (expr);                                                     \
    if (r1_gpu_status_ != (ok))                                                             \
      throw ::r1::InternalError(::r1::detail::concat(                                       \
          ::r1::detail::short_path(__FILE__), ":", __LINE__, ": " library " call `", text,  \
          "` failed: ", describe(r1_gpu_status_)));                                         \
  } while (0)

namespace r1::detail {
// "cudaErrorInvalidValue (invalid argument)": the enum name to grep for and the readable text.
inline std::string cuda_status_text(cudaError_t status) {
  return std::string(cudaGetErrorName(status)) + " (" + cudaGetErrorString(status) + ")";
}
}  // namespace r1::detail

#define R1_CUDA_CHECK(expr) \
  R1_GPU_LIBRARY_CHECK("CUDA", #expr, expr, cudaSuccess, ::r1::detail::cuda_status_text)
