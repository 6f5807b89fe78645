// R1_CUBLAS_CHECK: a failed cuBLAS call as r1::InternalError with file:line, the call's text and
// cuBLAS's own status string; made by the one generator in cuda_check.h.
#pragma once

#include <cublas_v2.h>

#include <string>

#include "rollout/cuda/cuda_check.h"

namespace r1::detail {
inline std::string cublas_status_text(cublasStatus_t status) {
  return std::string(cublasGetStatusName(status)) + " (" + cublasGetStatusString(status) + ")";
}
}  // namespace r1::detail

#define R1_CUBLAS_CHECK(expr) \
  R1_GPU_LIBRARY_CHECK("cuBLAS", #expr, expr, CUBLAS_STATUS_SUCCESS, ::r1::detail::cublas_status_text)
