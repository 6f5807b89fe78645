// FP8 E4M3 weights as DeepSeek-V3 checkpoints store them: one byte per weight (the "e4m3fn"
// format: 1 sign, 4 exponent bits with bias 7, 3 mantissa bits; no infinities, 0x7F/0xFF NaN,
// largest 448) and, beside each quantised weight W, a float tensor W_scale_inv of one factor per
// 128 x 128 block. The real weight is code value x the block's factor (DeepSeek's weight_dequant).
// LibTorch 1.13 has no float8 type, so the bytes are decoded through a 256-entry table.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace r1::policy {

// The value of each of the 256 E4M3 codes, float32 [256].
const torch::Tensor& fp8_e4m3_table();

// codes: uint8 of any shape. Float32 of the same shape.
torch::Tensor decode_fp8_e4m3(const torch::Tensor& codes);

// codes: uint8 [rows, cols]; scale_inv: float [ceil(rows/block), ceil(cols/block)]. Float32
// [rows, cols]: each code's value times its block's factor. UserError naming `name` when the
// scale's shape does not cover the weight.
torch::Tensor dequantize_fp8_e4m3(const torch::Tensor& codes, const torch::Tensor& scale_inv, const std::string& name,
                                  int64_t block = 128);

}  // namespace r1::policy
