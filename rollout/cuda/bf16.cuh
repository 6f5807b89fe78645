// bf16 on the device, as the kernels store and read it: bits in uint16_t (the pools, the weights,
// the GEMM inputs), rounded from fp32 to nearest, ties to even (__float2bfloat16_rn, as
// rollout/bf16.h on the host and LibTorch), widened back exactly. One definition for every kernel.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace r1::rollout::kernels {

__device__ __forceinline__ uint16_t bf16_bits_rn(float x) { return __bfloat16_as_ushort(__float2bfloat16_rn(x)); }
__device__ __forceinline__ float bf16_widen(uint16_t b) { return __uint_as_float(uint32_t(b) << 16); }

// A value stored to fp32 as is, to bf16 rounded: the kernels that write either kind of buffer.
__device__ __forceinline__ void store_as(float* at, float x) { *at = x; }
__device__ __forceinline__ void store_as(uint16_t* at, float x) { *at = bf16_bits_rn(x); }
// Read as fp32: itself, or widened.
__device__ __forceinline__ float load_as_float(float x) { return x; }
__device__ __forceinline__ float load_as_float(uint16_t b) { return bf16_widen(b); }

}  // namespace r1::rollout::kernels
